"""Readiness figures of many incidents, combined from tallies of their summaries (shared.readiness.tally; never
from their timelines). Pure.

Response times (median, p90, count) overall and per service, severity, detection source and month; the share of
incidents a customer reported first; on-call load per person and per roster, by band of the day; cost per service
and month; follow-ups; public-update promises kept and late.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.readiness.distribution import Spread, spread_of_sorted
from shared.readiness.hours import PERIODS
from shared.readiness.summary import DURATIONS, IncidentSummary
from shared.readiness.tally import GROUPINGS, Columns, Pages, Tally, merged, tally


@dataclass(frozen=True)
class Load:
    pages: int
    by_period: dict[str, int]  # hours.PERIODS → pages
    by_hour: tuple[int, ...]  # 24 counts: pages by hour of the person's day


@dataclass(frozen=True)
class Figures:
    incidents: int
    customer_first: int  # incidents a customer reported before monitoring did
    response: dict[str, Spread]  # duration → spread, over every incident
    grouped: dict[str, dict[str, dict[str, Spread]]]  # grouping → key → duration → spread
    load_by_person: dict[str, Load]
    load_by_roster: dict[str, Load]
    cost_by_service: dict[str, float]
    cost_by_month: dict[str, float]
    outage_minutes: float
    cost: float
    follow_ups: int
    follow_ups_done: int
    updates_promised: int
    updates_kept: int
    updates_late: int

    @property
    def customer_first_share(self) -> float | None:
        return self.customer_first / self.incidents if self.incidents else None


def aggregate(summaries: Iterable[IncidentSummary]) -> Figures:
    return combine([tally(summaries)])


def combine(tallies: Sequence[Tally]) -> Figures:
    """The figures of the incidents of several tallies (of disjoint sets): exactly those of one tally of them all."""
    return Figures(
        incidents=sum(part.incidents for part in tallies),
        customer_first=sum(part.customer_first for part in tallies),
        response=_spreads([part.response for part in tallies]),
        grouped={name: _grouped([part.grouped[name] for part in tallies]) for name in GROUPINGS},
        load_by_person=_load([part.pages_by_person for part in tallies]),
        load_by_roster=_load([part.pages_by_roster for part in tallies]),
        cost_by_service=_totals([part.cost_by_service for part in tallies]),
        cost_by_month=_totals([part.cost_by_month for part in tallies]),
        outage_minutes=math.fsum(itertools.chain.from_iterable(part.outage_minutes for part in tallies)),
        cost=math.fsum(cost for part in tallies for costs in part.cost_by_service.values() for cost in costs),
        follow_ups=sum(part.follow_ups for part in tallies),
        follow_ups_done=sum(part.follow_ups_done for part in tallies),
        updates_promised=sum(part.updates_promised for part in tallies),
        updates_kept=sum(part.updates_promised - part.updates_late for part in tallies),
        updates_late=sum(part.updates_late for part in tallies),
    )


def _spreads(parts: list[Columns]) -> dict[str, Spread]:
    """Per duration, the spread of the merged columns of several tallies."""
    return {
        duration: spread_of_sorted(merged([columns[index] for columns in parts]))
        for index, duration in enumerate(DURATIONS)
    }


def _grouped(parts: list[dict[str, Columns]]) -> dict[str, dict[str, Spread]]:
    members: dict[str, list[Columns]] = defaultdict(list)
    for groups in parts:
        for key, columns in groups.items():
            members[key].append(columns)
    return {key: _spreads(members[key]) for key in sorted(members)}


def _load(parts: list[dict[str, Pages]]) -> dict[str, Load]:
    by_period: dict[str, list[int]] = defaultdict(lambda: [0] * len(PERIODS))
    by_hour: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for pages in parts:
        for name, (periods, hours) in pages.items():
            by_period[name] = list(map(operator.add, by_period[name], periods))
            by_hour[name] = list(map(operator.add, by_hour[name], hours))
    return {
        name: Load(sum(by_period[name]), dict(zip(PERIODS, by_period[name], strict=True)), tuple(by_hour[name]))
        for name in sorted(by_period)
    }


def _totals(parts: list[dict[str, tuple[float, ...]]]) -> dict[str, float]:
    """Each key's costs summed exactly once rounded (fsum), so the total is the same however the set was split."""
    costs: dict[str, list[float]] = defaultdict(list)
    for totals in parts:
        for name, values in totals.items():
            costs[name] += values
    return {name: math.fsum(costs[name]) for name in sorted(costs)}
