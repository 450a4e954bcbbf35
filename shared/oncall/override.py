"""Overrides: someone else covers part of a layer's schedule (holiday, sick day, a swap), from the API or Teams.

Overrides stack: where several cover the same instant, the NEWEST (created last) wins, so a later change always
takes effect and an earlier override never has to be edited. A shift swap is two overrides: Alex covers Sam's
shift and Sam covers Alex's. The person must be in people.toml, because whoever is on call must be reachable.

Times, in the API and `override <roster> <person> <from> <until>`:
- an ISO 8601 instant with its zone: `2026-12-03T09:00Z`, `2026-12-03T09:00+01:00`;
- a local date-time without a zone, `2026-12-03T09:00` or `2026-12-03 09:00`, read in the COVERING PERSON's time
  zone from people.toml (a date alone is that day's 00:00); a time skipped or repeated by a daylight-saving change
  is read as for hand-offs (the earlier offset);
- `now`, or `+30m`, `+8h`, `+2d`, `+1w`, `+1d12h` from now — for the end, from the start (`now +8h` is a shift).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core.errors import InvalidInput, NotFound
from shared.core.json_body import text_field
from shared.core.timeutil import iso
from shared.oncall.people import Directory, Person
from shared.oncall.rotation import wall_clock
from shared.oncall.schedule import PRIMARY, Schedule

MAX_LENGTH = timedelta(days=90)  # longer is a change of rotation, not an override
MAX_LEAD = timedelta(days=366)  # how far ahead an override may start
MAX_TEXT = 200
FIELDS = ("roster", "layer", "person", "start", "end", "created_by")
_RELATIVE = re.compile(r"\+(?:(\d{1,3})w)?(?:(\d{1,3})d)?(?:(\d{1,4})h)?(?:(\d{1,6})m)?")


@dataclass(frozen=True)
class Override:
    roster: str
    layer: str
    person: Person
    start: datetime  # UTC
    end: datetime  # UTC, after start
    created_at: datetime  # UTC; the newest covering override wins
    id: str  # deterministic: the same override written twice is one row
    created_by: str | None = None

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and self.end > start


def override_id(roster: str, layer: str, person: Person, start: datetime, end: datetime, created_at: datetime) -> str:
    key = "|".join((roster, layer, person.name, iso(start), iso(end), created_at.astimezone(UTC).isoformat()))
    return "ovr-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def newest_first(overrides: Iterable[Override]) -> list[Override]:
    return sorted(overrides, key=lambda override: (override.created_at, override.id), reverse=True)


def winning(overrides: Sequence[Override], roster: str, layer: str, at: datetime) -> Override | None:
    """The override in force for this roster and layer at `at`: the newest of those covering it."""
    return next(
        (o for o in newest_first(overrides) if o.roster == roster and o.layer == layer and o.covers(at)),
        None,
    )


def new_override(
    schedule: Schedule,
    directory: Directory,
    *,
    roster: str,
    person: str,
    start: datetime,
    end: datetime,
    now: datetime,
    layer: str = PRIMARY,
    created_by: str | None = None,
) -> Override:
    """A validated override (what the Teams `override` command calls, with instants already resolved).

    InvalidInput names the problem: unknown roster, layer or person, an empty or backwards range, one that has
    already ended, starts more than a year ahead or lasts more than 90 days."""
    try:
        found = schedule.roster(roster)
        found.layer(layer)
    except NotFound as problem:
        raise InvalidInput(problem.detail) from None
    covering = known_person(directory, person)
    if end <= start:
        raise InvalidInput(f"the override must end after it starts ({iso(start)} → {iso(end)})")
    if end <= now:
        raise InvalidInput(f"the override ended in the past ({iso(end)})")
    if start - now > MAX_LEAD:
        raise InvalidInput("the override starts more than a year ahead")
    if end - start > MAX_LENGTH:
        raise InvalidInput(f"the override lasts {(end - start).days} days; the limit is {MAX_LENGTH.days}")
    by = _optional_text(created_by, "created_by")
    created_at = now.astimezone(UTC)
    return Override(
        roster=found.id,
        layer=layer,
        person=covering,
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        created_at=created_at,
        id=override_id(found.id, layer, covering, start, end, created_at),
        created_by=by,
    )


def parse_override(fields: dict[str, Any], schedule: Schedule, directory: Directory, now: datetime) -> Override:
    """`POST /api/oncall/overrides` JSON: roster, person, start, end; optional layer (primary) and created_by."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0][:40]!r}; expected {', '.join(FIELDS)}")
    roster, person = _required_text(fields, "roster"), _required_text(fields, "person")
    layer = _required_text(fields, "layer") if "layer" in fields else PRIMARY
    covering = known_person(directory, person)
    start = parse_when(_required_text(fields, "start"), covering.time_zone, now, "start")
    end = parse_when(_required_text(fields, "end"), covering.time_zone, start, "end")  # "+8h": eight hours long
    return new_override(
        schedule,
        directory,
        roster=roster,
        person=person,
        start=start,
        end=end,
        now=now,
        layer=layer,
        created_by=fields.get("created_by"),
    )


def known_person(directory: Directory, text: str) -> Person:
    person = directory.named(text)
    if person not in directory.people:
        raise InvalidInput(f"{text.strip()[:100]!r} is not in people.toml; on-call people must be reachable")
    return person


def parse_when(text: str, zone: str, now: datetime, what: str = "time") -> datetime:
    """An instant from the forms in the module docstring; naive local times are read in `zone`."""
    word = text.strip().lower()
    if word == "now":
        return now.astimezone(UTC)
    relative = _RELATIVE.fullmatch(word)
    if relative and any(relative.groups()):
        weeks, days, hours, minutes = (int(part or 0) for part in relative.groups())
        return now.astimezone(UTC) + timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{what} {text[:40]!r} is not a time: use ISO 8601 (2026-12-03T09:00Z, or 2026-12-03T09:00 in the "
            "person's time zone), now, or +8h"
        ) from None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else wall_clock(moment, zone)
    except OverflowError:  # year 1 or 9999 shifted across midnight
        raise InvalidInput(f"{what} {text[:40]!r} is out of range") from None


def _required_text(fields: dict[str, Any], key: str) -> str:
    return text_field(fields, key, MAX_TEXT)


def _optional_text(value: Any, key: str) -> str | None:
    if value is None:
        return None
    return _required_text({key: value}, key)
