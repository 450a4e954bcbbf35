"""Who is on call: a roster's layer resolved at an instant or over a range, overrides applied. Pure.

Resolution, lowest to highest precedence: the layer's rotations in file order (a later rotation wins where it
applies), then the overrides for that roster and layer, oldest to newest (the newest covering override wins).
Where nothing covers, nobody is on call: a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.oncall.override import Override
from shared.oncall.people import Person
from shared.oncall.rotation import Cover, covers, overlay
from shared.oncall.schedule import Roster, Schedule

# How far back `now_and_next` looks for the real start of the current shift, and forward for the next one.
LOOKBACK = timedelta(days=28)
HORIZON = timedelta(days=35)
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class Shift:
    person: Person
    start: datetime  # UTC
    end: datetime  # UTC
    layer: str
    override: bool  # covered by an override rather than the rotations


def shifts(
    schedule: Schedule,
    roster: str,
    layer: str,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
) -> list[Shift]:
    """Who covers when within [start, end): sorted, clipped to the range, neighbouring stretches of the same person
    merged (from rotations and from overrides separately). The holes between shifts are gaps.

    NotFound for an unknown roster or layer; overrides of other rosters and layers are ignored."""
    found = schedule.roster(roster)
    chosen = found.layer(layer)
    ranked: list[tuple[Any, Cover]] = []
    for position, rotation in enumerate(chosen.rotations):
        ranked += [((0, position), cover) for cover in covers(rotation, start, end)]
    for override in overrides:
        if override.roster == found.id and override.layer == chosen.name and override.overlaps(start, end):
            cover = Cover(override.person, override.start, override.end, override=True)
            ranked.append(((1, override.created_at, override.id), cover))
    return [Shift(c.person, c.start, c.end, chosen.name, c.override) for c in overlay(ranked, start, end)]


def on_call(
    schedule: Schedule, roster: str, layer: str, at: datetime, overrides: Sequence[Override] = ()
) -> Person | None:
    """The person on call in this roster's layer at `at`; None when nobody is (a gap)."""
    found = shifts(schedule, roster, layer, at, at + _INSTANT, overrides)
    return found[0].person if found else None


def now_and_next(
    schedule: Schedule,
    roster: str,
    layer: str,
    at: datetime,
    overrides: Sequence[Override] = (),
    horizon: timedelta = HORIZON,
) -> tuple[Shift | None, Shift | None]:
    """The shift in force at `at` (None in a gap) and the one after it, with their real start and end (looked for
    up to LOOKBACK before and `horizon` after `at`; a shift reaching past those ends there)."""
    found = shifts(schedule, roster, layer, at - LOOKBACK, at + horizon, overrides)
    current = next((shift for shift in found if shift.start <= at < shift.end), None)
    after = current.end if current else at
    following = next((shift for shift in found if shift.start >= after), None)
    return current, following


def roster_now_and_next(
    schedule: Schedule, roster: Roster, at: datetime, overrides: Sequence[Override] = ()
) -> list[tuple[str, Shift | None, Shift | None]]:
    """(layer, shift now, next shift) for every layer of the roster, in the roster's layer order."""
    return [(layer.name, *now_and_next(schedule, roster.id, layer.name, at, overrides)) for layer in roster.layers]


def gaps(shifts_in_range: Sequence[Shift], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The stretches of [start, end) that no shift covers."""
    holes: list[tuple[datetime, datetime]] = []
    cursor = start
    for shift in shifts_in_range:
        if shift.start > cursor:
            holes.append((cursor, min(shift.start, end)))
        cursor = max(cursor, shift.end)
    if cursor < end:
        holes.append((cursor, end))
    return [(begins, ends) for begins, ends in holes if begins < ends]
