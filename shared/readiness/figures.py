"""Readiness figures of many incidents, aggregated from their summaries (never from their timelines). Pure.

Response times (median, p90, count) overall and per service, severity, detection source and month; the share of
incidents a customer reported first; on-call load per person and per roster, by band of the day; cost per service
and month; follow-ups; public-update promises kept and late.
"""

from __future__ import annotations

import functools
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared.readiness.distribution import Spread, spread
from shared.readiness.hours import PERIODS
from shared.readiness.summary import DURATIONS, IncidentSummary

_known = functools.partial(operator.is_not, None)  # a duration that happened (C speed over 10,000 values)

# The groupings of response times: name → the summary's key in that grouping.
GROUPINGS: dict[str, Callable[[IncidentSummary], str]] = {
    "service": lambda summary: summary.service,
    "severity": lambda summary: f"SEV{summary.severity}",
    "source": lambda summary: summary.source,
    "month": lambda summary: summary.month,
}


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
    chosen = list(summaries)
    return Figures(
        incidents=len(chosen),
        customer_first=sum(1 for summary in chosen if summary.customer_first),
        response=_response(chosen),
        grouped={name: _grouped(chosen, key) for name, key in GROUPINGS.items()},
        load_by_person=_load(chosen, lambda tally: tally.person),
        load_by_roster=_load(chosen, lambda tally: tally.roster),
        cost_by_service=_totals(chosen, lambda summary: summary.service),
        cost_by_month=_totals(chosen, lambda summary: summary.month),
        outage_minutes=sum(summary.outage_minutes for summary in chosen),
        cost=sum(summary.cost for summary in chosen),
        follow_ups=sum(summary.follow_ups for summary in chosen),
        follow_ups_done=sum(summary.follow_ups_done for summary in chosen),
        updates_promised=sum(summary.updates_promised for summary in chosen),
        updates_kept=sum(summary.updates_kept for summary in chosen),
        updates_late=sum(summary.updates_late for summary in chosen),
    )


def _response(summaries: list[IncidentSummary]) -> dict[str, Spread]:
    return _spreads([summary.durations for summary in summaries])


def _spreads(rows: list[tuple[float | None, ...]]) -> dict[str, Spread]:
    """Per duration, the spread of the known values of rows of durations (in DURATIONS order)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(DURATIONS)
    return {duration: spread(filter(_known, column)) for duration, column in zip(DURATIONS, columns, strict=True)}


def _grouped(summaries: list[IncidentSummary], key: Callable[[IncidentSummary], str]) -> dict[str, dict[str, Spread]]:
    groups: dict[str, list[tuple[float | None, ...]]] = defaultdict(list)
    for summary in summaries:
        groups[key(summary)].append(summary.durations)
    return {name: _spreads(groups[name]) for name in sorted(groups)}


def _load(summaries: list[IncidentSummary], key: Callable) -> dict[str, Load]:
    pages: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PERIODS, 0))
    by_hour: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for summary in summaries:
        for tally in summary.pages:
            name = key(tally)
            if not name:
                continue  # a person paged by name is nobody's roster's load
            pages[name][tally.period] += tally.count
            by_hour[name][tally.hour] += tally.count
    return {name: Load(sum(pages[name].values()), dict(pages[name]), tuple(by_hour[name])) for name in sorted(pages)}


def _totals(summaries: list[IncidentSummary], key: Callable[[IncidentSummary], str]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for summary in summaries:
        totals[key(summary)] += summary.cost
    return {name: totals[name] for name in sorted(totals)}
