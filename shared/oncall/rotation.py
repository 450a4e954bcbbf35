"""Rotations: how one rotation of an on-call layer hands the pager from member to member, as pure functions.

A rotation turns into covers — (person, start, end) stretches in UTC — over any range. Hand-offs happen at local
wall-clock time in the rotation's zone (follow-the-sun: in each member's own zone), so a 09:00 hand-off stays at
09:00 across daylight-saving changes and the shift around the change is an hour shorter or longer.

Wall-clock times that do not exist or happen twice follow PEP 495 `fold=0`: a time in the spring-forward gap is
read with the offset from before the change (02:30 in New York on the spring-forward night is 03:30 EDT, i.e. the
hand-off is pushed on by the length of the jump), and a repeated time is its FIRST occurrence (01:30 on the
fall-back night is 01:30 EDT). Hand-offs therefore always move forward and shifts never overlap.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from shared.oncall.people import Person

WEEKLY, DAILY, CUSTOM, FOLLOW_THE_SUN = "weekly", "daily", "custom", "follow_the_sun"
KINDS = (WEEKLY, DAILY, CUSTOM, FOLLOW_THE_SUN)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


@dataclass(frozen=True)
class WeeklyWindow:
    """A stretch of every week in local wall-clock time: it opens `start_minute` minutes after Monday 00:00 and
    stays open `minutes` wall-clock minutes (it may run into the next week: Friday 17:00 → Monday 09:00)."""

    start_minute: int  # 0 ≤ start_minute < MINUTES_PER_WEEK
    minutes: int  # 0 < minutes < MINUTES_PER_WEEK


@dataclass(frozen=True)
class Rotation:
    """One rotation of a layer.

    weekly / daily / custom: members take turns, one shift each of `shift_days` days (7, 1, n), handing off at
    `handoff_time` in `time_zone`; the first shift (members[0]) starts on `start` at the hand-off time, and
    nobody of this rotation covers before that. With `windows`, the rotation only applies inside them (a weekend
    rotation): the member whose shift it is covers the window.
    follow_the_sun: every member covers the `windows` (e.g. Mon–Fri 09:00–17:00) in THEIR OWN time zone from
    people.toml; where two members' hours overlap, the one whose hours began last covers (the pager moves west
    with the sun), and at equal starts the member listed first.
    """

    name: str
    kind: str
    members: tuple[Person, ...]
    time_zone: str = "UTC"
    handoff_time: time = time(9, 0)
    shift_days: int = 7
    start: date | None = None
    windows: tuple[WeeklyWindow, ...] = ()  # empty: around the clock

    @property
    def around_the_clock(self) -> bool:
        """A 24×7 rotation: its shifts are unbroken, so their length and the number of people matter most."""
        return self.kind != FOLLOW_THE_SUN and not self.windows


@dataclass(frozen=True)
class Cover:
    """One person on call from `start` to `end` (UTC), from a rotation or, with `override`, from an override."""

    person: Person
    start: datetime
    end: datetime
    override: bool = False


def wall_clock(moment: datetime, zone: str) -> datetime:
    """The UTC instant of a naive local wall-clock time in `zone` (non-existent and repeated times: fold=0)."""
    return moment.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)


def covers(rotation: Rotation, start: datetime, end: datetime) -> list[Cover]:
    """Who this rotation puts on call within [start, end): sorted, non-overlapping, clipped to the range."""
    if end <= start or not rotation.members:
        return []
    if rotation.kind == FOLLOW_THE_SUN:
        return _follow_the_sun(rotation, start, end)
    shifts = _rotating(rotation, start, end)
    if not rotation.windows:
        return shifts
    return _within(shifts, window_occurrences(rotation.windows, rotation.time_zone, start, end), start, end)


def shift_start(rotation: Rotation, index: int) -> datetime:
    """When shift `index` (0 = the first, members[0]) of a weekly, daily or custom rotation begins."""
    assert rotation.start is not None
    day = rotation.start + timedelta(days=index * rotation.shift_days)
    return wall_clock(datetime.combine(day, rotation.handoff_time), rotation.time_zone)


def shift_index(rotation: Rotation, at: datetime) -> int:
    """The shift of a weekly, daily or custom rotation that `at` falls in (negative: before the first shift)."""
    assert rotation.start is not None
    local_day = at.astimezone(ZoneInfo(rotation.time_zone)).date()
    index = (local_day - rotation.start).days // rotation.shift_days
    # The local date is within a day of the hand-off date; DST can put it either side, so settle by comparing.
    while shift_start(rotation, index) > at:
        index -= 1
    while shift_start(rotation, index + 1) <= at:
        index += 1
    return index


def _rotating(rotation: Rotation, start: datetime, end: datetime) -> list[Cover]:
    index = max(0, shift_index(rotation, start))
    result: list[Cover] = []
    begins = shift_start(rotation, index)
    while begins < end:
        ends = shift_start(rotation, index + 1)
        if ends > start:
            person = rotation.members[index % len(rotation.members)]
            result.append(Cover(person, max(begins, start), min(ends, end)))
        index, begins = index + 1, ends
    return result


def window_occurrences(
    windows: Sequence[WeeklyWindow], zone: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Every opening of `windows` in `zone` that overlaps [start, end), UNclipped, sorted by start (overlapping
    windows of one zone are merged). Unclipped, because follow-the-sun ranks overlapping hours by their real start."""
    tz = ZoneInfo(zone)
    # The earliest opening that can still be open at `start` is the longest window's length before it (+ a day for
    # any clock change); begin with the local week that contains it.
    reach = timedelta(minutes=max((window.minutes for window in windows), default=0)) + timedelta(days=1)
    first_day = (start - reach).astimezone(tz).date()
    monday = first_day - timedelta(days=first_day.weekday())
    opened: list[tuple[datetime, datetime]] = []
    while True:
        week = datetime.combine(monday, time(0))
        if wall_clock(week, zone) >= end:
            break
        for window in windows:
            local_start = week + timedelta(minutes=window.start_minute)
            opens = wall_clock(local_start, zone)
            closes = wall_clock(local_start + timedelta(minutes=window.minutes), zone)
            if opens < end and closes > start and closes > opens:
                opened.append((opens, closes))
        monday += timedelta(days=7)
    opened.sort()
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in opened:
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged


def _within(
    shifts: list[Cover], windows: list[tuple[datetime, datetime]], start: datetime, end: datetime
) -> list[Cover]:
    """The parts of the shifts that fall inside the windows (both sorted and non-overlapping)."""
    result: list[Cover] = []
    i = j = 0
    while i < len(shifts) and j < len(windows):
        shift, (opens, closes) = shifts[i], windows[j]
        begins, ends = max(shift.start, opens, start), min(shift.end, closes, end)
        if begins < ends:
            result.append(Cover(shift.person, begins, ends))
        if shift.end <= closes:
            i += 1
        else:
            j += 1
    return result


def _follow_the_sun(rotation: Rotation, start: datetime, end: datetime) -> list[Cover]:
    ranked: list[tuple[Any, Cover]] = []
    for position, member in enumerate(rotation.members):
        for opens, closes in window_occurrences(rotation.windows, member.time_zone, start, end):
            # Latest start wins; at equal starts the member listed first (-position ranks it higher).
            ranked.append(((opens, -position), Cover(member, opens, closes)))
    return overlay(ranked, start, end)


def overlay(ranked: Iterable[tuple[Any, Cover]], start: datetime, end: datetime) -> list[Cover]:
    """Resolve overlapping covers: at every instant the covering one with the highest rank wins.

    Returns sorted, non-overlapping covers clipped to [start, end); neighbours with the same person and kind
    (rotation or override) are merged. A sweep over the boundaries with a heap: O(n log n).
    """
    entries = sorted(
        ((rank, cover) for rank, cover in ranked if cover.end > start and cover.start < end),
        key=lambda entry: entry[0],
    )
    # (clipped start, clipped end, priority, cover): the priority is the position in rank order.
    spans = sorted(
        (max(cover.start, start), min(cover.end, end), priority, cover)
        for priority, (_rank, cover) in enumerate(entries)
    )
    boundaries = sorted({span[0] for span in spans} | {span[1] for span in spans})
    active: list[tuple[int, datetime, Cover]] = []
    result: list[Cover] = []
    next_span = 0
    for begins, ends in pairwise(boundaries):
        while next_span < len(spans) and spans[next_span][0] <= begins:
            _, closes, priority, cover = spans[next_span]
            heapq.heappush(active, (-priority, closes, cover))
            next_span += 1
        while active and active[0][1] <= begins:
            heapq.heappop(active)  # lazily: only expired covers that would otherwise win are dropped
        if not active:
            continue
        winner = active[0][2]
        last = result[-1] if result else None
        if last and last.end == begins and (last.person, last.override) == (winner.person, winner.override):
            result[-1] = Cover(last.person, last.start, ends, last.override)
        else:
            result.append(Cover(winner.person, begins, ends, winner.override))
    return result
