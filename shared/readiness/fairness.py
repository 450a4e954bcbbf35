"""Rotation fairness: how evenly a roster's pages fall on its primary shifts — pages per shift (median, p90, the
busiest, how many were quiet) and each person's shifts and pages. A page counts for a shift when it reached the
person holding that shift while they held it. Pure: the shifts (overrides applied) and the pages are given.

It covers at most the last SPAN of a metrics window (and never the future): fairness is a question about the
current rotation, and the schedule configured today says nothing reliable about shifts of years ago.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.oncall.shifts import Shift
from shared.readiness.distribution import Spread, spread

SPAN = timedelta(days=92)


@dataclass(frozen=True)
class Fairness:
    shifts: int
    per_shift: Spread  # pages per shift
    busiest: int  # the most pages any one shift had
    quiet: int  # shifts without a page
    people: dict[str, tuple[int, int]]  # person → (shifts held, pages during them)


def span(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime] | None:
    """The part of [start, end) fairness covers: its last SPAN, up to now; None when none of it has happened."""
    last = min(end, now)
    first = max(start, last - SPAN)
    return (first, last) if first < last else None


def fairness(shifts: Sequence[Shift], paged: Iterable[tuple[str, datetime]]) -> Fairness:
    times: dict[str, list[datetime]] = defaultdict(list)
    for person, at in paged:
        times[person].append(at)
    for moments in times.values():
        moments.sort()
    counts, people = [], defaultdict(lambda: [0, 0])
    for shift in shifts:
        moments = times.get(shift.person.name, [])
        count = bisect.bisect_left(moments, shift.end) - bisect.bisect_left(moments, shift.start)
        counts.append(count)
        people[shift.person.name][0] += 1
        people[shift.person.name][1] += count
    return Fairness(
        shifts=len(counts),
        per_shift=spread(counts),
        busiest=max(counts, default=0),
        quiet=sum(1 for count in counts if count == 0),
        people={name: (held, pages) for name, (held, pages) in sorted(people.items())},
    )
