"""The figures of a set of incidents kept in parts that combine exactly with another set's: sorted durations (a
median or p90 of two sets is one of their merged values), counts, and each incident's cost (summed with math.fsum,
which gives the same total in any order). A month's tally is worked out once from its summaries; a query over many
months combines their tallies (shared.readiness.figures.combine) instead of going through 10,000 summaries. Pure.
"""

from __future__ import annotations

import bisect
import functools
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.readiness.hours import PERIODS
from shared.readiness.summary import DURATIONS, IncidentSummary, PageTally

_known = functools.partial(operator.is_not, None)  # a duration that happened (C speed over 10,000 values)
_when = operator.itemgetter(0)

# The groupings of response times: name → the summary's key in that grouping.
GROUPINGS: dict[str, Callable[[IncidentSummary], str]] = {
    "service": lambda summary: summary.service,
    "severity": lambda summary: f"SEV{summary.severity}",
    "source": lambda summary: summary.source,
    "month": lambda summary: summary.month,
}

Columns = tuple[tuple[float, ...], ...]  # per DURATIONS: the known values, sorted
Pages = tuple[tuple[int, ...], tuple[int, ...]]  # pages per hours.PERIODS, pages per hour of the person's day


@dataclass(frozen=True)
class Tally:
    incidents: int
    customer_first: int
    response: Columns
    grouped: dict[str, dict[str, Columns]]  # grouping → key → columns
    pages_by_person: dict[str, Pages]
    pages_by_roster: dict[str, Pages]
    cost_by_service: dict[str, tuple[float, ...]]  # each incident's cost
    cost_by_month: dict[str, tuple[float, ...]]
    outage_minutes: tuple[float, ...]  # each incident's
    follow_ups: int
    follow_ups_done: int
    updates_promised: int
    updates_late: int
    paged: tuple[tuple[datetime, str], ...]  # (when, person) of every page, in time order: fairness

    def paged_between(self, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
        first, last = bisect.bisect_left(self.paged, start, key=_when), bisect.bisect_left(self.paged, end, key=_when)
        return list(self.paged[first:last])


def tally(summaries: Iterable[IncidentSummary]) -> Tally:
    chosen = list(summaries)
    rows = [summary.durations for summary in chosen]
    grouped = {}
    for name, key in GROUPINGS.items():
        groups: dict[str, list[tuple[float | None, ...]]] = defaultdict(list)
        for summary, durations in zip(chosen, rows, strict=True):
            groups[key(summary)].append(durations)
        grouped[name] = {group: _columns(members) for group, members in groups.items()}
    return Tally(
        incidents=len(chosen),
        customer_first=sum(1 for summary in chosen if summary.customer_first),
        response=_columns(rows),
        grouped=grouped,
        pages_by_person=_pages(chosen, operator.attrgetter("person")),
        pages_by_roster=_pages(chosen, operator.attrgetter("roster")),
        cost_by_service=_costs(chosen, GROUPINGS["service"]),
        cost_by_month=_costs(chosen, GROUPINGS["month"]),
        outage_minutes=tuple(summary.outage_minutes for summary in chosen),
        follow_ups=sum(summary.follow_ups for summary in chosen),
        follow_ups_done=sum(summary.follow_ups_done for summary in chosen),
        updates_promised=sum(summary.updates_promised for summary in chosen),
        updates_late=sum(summary.updates_late for summary in chosen),
        paged=tuple(sorted((at, person) for summary in chosen for person, at in summary.paged)),
    )


def merged(runs: Sequence[tuple[float, ...]]) -> Sequence[float]:
    """Sorted runs as one sorted sequence (the sort finds the runs and merges them)."""
    if len(runs) == 1:
        return runs[0]
    values: list[float] = []
    for run in runs:
        values += run
    values.sort()
    return values


def _columns(rows: list[tuple[float | None, ...]]) -> Columns:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(DURATIONS)
    return tuple(tuple(sorted(filter(_known, column))) for column in columns)


def _pages(summaries: list[IncidentSummary], key: Callable[[PageTally], str]) -> dict[str, Pages]:
    by_period: dict[str, list[int]] = defaultdict(lambda: [0] * len(PERIODS))
    by_hour: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for summary in summaries:
        for page in summary.pages:
            name = key(page)
            if not name:
                continue  # a person paged by name is nobody's roster's load
            by_period[name][PERIODS.index(page.period)] += page.count
            by_hour[name][page.hour] += page.count
    return {name: (tuple(by_period[name]), tuple(by_hour[name])) for name in by_period}


def _costs(summaries: list[IncidentSummary], key: Callable[[IncidentSummary], str]) -> dict[str, tuple[float, ...]]:
    costs: dict[str, list[float]] = defaultdict(list)
    for summary in summaries:
        costs[key(summary)].append(summary.cost)
    return {name: tuple(values) for name, values in costs.items()}
