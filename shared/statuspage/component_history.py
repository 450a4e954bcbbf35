"""Component status over time: the public status vocabulary and each component's 90-day daily history.

Pure. A day's state is the worst status the component was in that (UTC) day; its minutes are counted per status,
each moment under the worst status that covered it, so two overlapping incidents never count twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from itertools import pairwise

# Statuspage's component statuses, from best to worst. Planned maintenance outranks degraded performance (a slow
# component during its announced window is the maintenance customers were told about) but not an outage.
OPERATIONAL = "operational"
DEGRADED_PERFORMANCE = "degraded_performance"
UNDER_MAINTENANCE = "under_maintenance"
PARTIAL_OUTAGE = "partial_outage"
MAJOR_OUTAGE = "major_outage"
COMPONENT_STATUSES = (OPERATIONAL, DEGRADED_PERFORMANCE, UNDER_MAINTENANCE, PARTIAL_OUTAGE, MAJOR_OUTAGE)
STATUS_RANK = {status: rank for rank, status in enumerate(COMPONENT_STATUSES)}
COMPONENT_STATUS_LABEL = {
    OPERATIONAL: "Operational",
    DEGRADED_PERFORMANCE: "Degraded performance",
    UNDER_MAINTENANCE: "Under maintenance",
    PARTIAL_OUTAGE: "Partial outage",
    MAJOR_OUTAGE: "Major outage",
}
OUTAGE_STATUSES = (PARTIAL_OUTAGE, MAJOR_OUTAGE)  # what counts against uptime
HISTORY_DAYS = 90
_DAY = timedelta(days=1)


def worst(first: str, second: str) -> str:
    return first if STATUS_RANK[first] >= STATUS_RANK[second] else second


@dataclass(frozen=True)
class Disruption:
    """A component in a status other than operational from `start` until `end` (an incident or a maintenance)."""

    component: str
    status: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class DayRecord:
    day: date  # a UTC day
    status: str  # the worst status of the day
    minutes: tuple[tuple[str, int], ...] = ()  # minutes in each non-operational status, worst first

    @property
    def label(self) -> str:
        return COMPONENT_STATUS_LABEL[self.status]

    @property
    def outage_minutes(self) -> int:
        return sum(minutes for status, minutes in self.minutes if status in OUTAGE_STATUSES)

    @cached_property
    def summary(self) -> str:
        """The day in words, for the bar's text equivalent and the table: state, then minutes of outage."""
        text = f"{self.label}, {self.outage_minutes} min of outage"
        others = [
            f"{minutes} min {_LOWER[status]}" for status, minutes in self.minutes if status not in OUTAGE_STATUSES
        ]
        return "; ".join([text, *others])


_LOWER = {status: label.lower() for status, label in COMPONENT_STATUS_LABEL.items()}


@dataclass(frozen=True)
class ComponentHistory:
    component: str
    days: tuple[DayRecord, ...]  # oldest first, the last one is today (so far)
    uptime: float  # percent of the window without outage, floored to 2 decimals so an outage never reads as 100

    @property
    def uptime_text(self) -> str:
        return f"{self.uptime:.2f} % uptime"


def window_start(now: datetime, days: int = HISTORY_DAYS) -> datetime:
    """Midnight UTC of the first day of the window that ends today."""
    first = now.astimezone(UTC).date() - (days - 1) * _DAY
    return datetime.combine(first, time(), UTC)


def daily_history(
    components: Sequence[str], disruptions: Iterable[Disruption], now: datetime, days: int = HISTORY_DAYS
) -> dict[str, ComponentHistory]:
    """Each component's last `days` UTC days (today included, up to `now`); disruptions outside are ignored."""
    start_of_window = window_start(now, days)
    first_day = start_of_window.date()
    pieces: dict[str, dict[date, list[tuple[datetime, datetime, str]]]] = {}
    for disruption in disruptions:
        start, end = max(disruption.start, start_of_window), min(disruption.end, now)
        if end <= start or disruption.status == OPERATIONAL:
            continue
        by_day = pieces.setdefault(disruption.component, {})
        day = start.astimezone(UTC).date()
        while start < end:  # split at midnight: each day is judged on its own
            midnight = datetime.combine(day + _DAY, time(), UTC)
            by_day.setdefault(day, []).append((start, min(end, midnight), disruption.status))
            start, day = midnight, day + _DAY
    window_seconds = max((now - start_of_window).total_seconds(), 0.0)
    calendar = [first_day + offset * _DAY for offset in range(days)]
    calm = [DayRecord(day, OPERATIONAL) for day in calendar]  # shared by every component's quiet days
    histories = {}
    for component in components:
        by_day = pieces.get(component, {})
        records = []
        outage_seconds = 0.0
        for day, quiet in zip(calendar, calm, strict=True):
            spans = by_day.get(day)
            if not spans:
                records.append(quiet)
                continue
            seconds = _seconds_by_worst(spans)
            outage_seconds += sum(seconds.get(status, 0.0) for status in OUTAGE_STATUSES)
            ordered = sorted(seconds, key=STATUS_RANK.__getitem__, reverse=True)
            minutes = tuple((status, math.ceil(seconds[status] / 60)) for status in ordered)
            records.append(DayRecord(day, ordered[0], minutes))
        uptime = 100.0 if window_seconds == 0 else math.floor((1 - outage_seconds / window_seconds) * 10000) / 100
        histories[component] = ComponentHistory(component, tuple(records), uptime)
    return histories


def _seconds_by_worst(spans: list[tuple[datetime, datetime, str]]) -> dict[str, float]:
    """Seconds spent in each status, every moment counted once under the worst status covering it."""
    if len(spans) == 1:
        start, end, status = spans[0]
        return {status: (end - start).total_seconds()}
    bounds = sorted({moment for start, end, _ in spans for moment in (start, end)})
    seconds: dict[str, float] = {}
    for left, right in pairwise(bounds):
        covering = [status for start, end, status in spans if start <= left and end >= right]
        if covering:
            status = max(covering, key=STATUS_RANK.__getitem__)
            seconds[status] = seconds.get(status, 0.0) + (right - left).total_seconds()
    return seconds
