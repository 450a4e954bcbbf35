"""On-call schedules from `oncall.toml`: rosters, their layers (primary, secondary …) and each layer's rotations.

Validated up front like the service catalog: every error names file, key and problem; unknown keys are errors;
every member must be a person in people.toml (we must be able to reach whoever is on call). The file is optional:
without it no roster exists, and a service that names a roster is a configuration error.

Within a layer, rotations are listed from the base upwards and a LATER rotation wins wherever it applies: put the
24×7 rotation first and the restricted ones (weekend, follow-the-sun hours) after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.core.config_file import config_text, known_keys, read_toml
from shared.core.errors import ConfigurationError, NotFound
from shared.oncall.people import Directory, Person
from shared.oncall.rotation import (
    CUSTOM,
    DAILY,
    FOLLOW_THE_SUN,
    KINDS,
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    WEEKDAYS,
    WEEKLY,
    Rotation,
    WeeklyWindow,
)

if TYPE_CHECKING:
    from shared.catalog.services import Catalog

ONCALL_FILE = "oncall.toml"
PRIMARY = "primary"
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_WINDOW = re.compile(r"\s*([a-z]+)\s+(\d{1,2}:\d{2})\s*-\s*([a-z]+)\s+(\d{1,2}:\d{2})\s*")
_ROTATION_KEYS = {"name", "kind", "members", "days", "hours", "windows"}
_KIND_KEYS = {
    WEEKLY: {"time_zone", "handoff_weekday", "handoff_time", "start"},
    DAILY: {"time_zone", "handoff_time", "start"},
    CUSTOM: {"time_zone", "handoff_time", "start", "shift_days"},
    FOLLOW_THE_SUN: set(),
}
_SHIFT_DAYS = {WEEKLY: 7, DAILY: 1}
_WORKING_DAYS = WEEKDAYS[:5]
_LIMIT_KEYS = {"max_shift_days", "min_people"}


@dataclass(frozen=True)
class Layer:
    name: str  # "primary", "secondary", …
    rotations: tuple[Rotation, ...]  # base first; a later rotation wins where it applies

    @property
    def members(self) -> tuple[Person, ...]:
        return tuple(dict.fromkeys(person for rotation in self.rotations for person in rotation.members))


@dataclass(frozen=True)
class Roster:
    id: str
    name: str
    layers: tuple[Layer, ...]
    workflow_url: str | None = None  # Teams Workflows webhook for this roster's cards (else TEAMS_WORKFLOW_URL)
    escalation_workflow_url: str | None = None  # where "still unacknowledged after the last step" goes
    time_zone: str = "UTC"

    def layer(self, name: str) -> Layer:
        found = next((layer for layer in self.layers if layer.name == name), None)
        if found is None:
            known = ", ".join(layer.name for layer in self.layers)
            raise NotFound(f"roster {self.id!r} has no layer {name!r}; it has {known}")
        return found

    @property
    def members(self) -> tuple[Person, ...]:
        return tuple(dict.fromkeys(person for layer in self.layers for person in layer.members))


@dataclass(frozen=True)
class RotationLimits:
    """oncall.toml [rotation_limits]: what a sustainable rotation stays within. The seed guidance disagrees with
    itself (24×7 shifts of at most 3–4 days; a one-week default rotation of at least three people), so the limits
    are configuration; the defaults flag a plain weekly 24×7 rotation (set max_shift_days = 7 to accept one)."""

    max_shift_days: int = 4  # one person's unbroken shift
    min_people: int = 3  # in a 24×7 rotation


@dataclass(frozen=True)
class HealthPolicy:
    """What counts as an unhealthy schedule: gaps ahead, and rotations outside their limits."""

    gap_days: int = 14  # look this far ahead for times nobody is on call
    limits: RotationLimits = field(default_factory=RotationLimits)


@dataclass(frozen=True)
class Schedule:
    rosters: tuple[Roster, ...] = ()
    health: HealthPolicy = field(default_factory=HealthPolicy)
    calendar_weeks: int = 8  # how far ahead the iCalendar export reaches

    def roster(self, roster_id: str) -> Roster:
        """The roster with this id (ids are lower case; the lookup is not case-sensitive); NotFound otherwise."""
        found = self.find(roster_id)
        if found is None:
            known = ", ".join(roster.id for roster in self.rosters) or "none configured"
            raise NotFound(f"there is no roster {roster_id[:40]!r}; rosters: {known}")
        return found

    def find(self, roster_id: str) -> Roster | None:
        wanted = roster_id.strip().lower()
        return next((roster for roster in self.rosters if roster.id == wanted), None)


def load_schedule(config_dir: Path, directory: Directory) -> Schedule:
    path = config_dir / ONCALL_FILE
    document = read_toml(path)
    return Schedule() if document is None else parse_schedule(document, str(path), directory)


def check_service_rosters(catalog: Catalog, schedule: Schedule, catalog_source: str) -> None:
    """Every roster a service names must exist, or its incidents would page nobody."""
    named = [("default", catalog.default)] + [(f"service[{i}]", s) for i, s in enumerate(catalog.services)]
    for where, service in named:
        if service.roster is not None and schedule.find(service.roster) is None:
            known = ", ".join(roster.id for roster in schedule.rosters) or f"none (no {ONCALL_FILE})"
            raise ConfigurationError(
                f"{catalog_source}: {where}.roster: {service.roster!r} is not a roster in {ONCALL_FILE}; "
                f"rosters: {known}"
            )


def parse_schedule(document: dict[str, Any], source: str, directory: Directory) -> Schedule:
    known_keys(document, {"roster", "health", "rotation_limits", "calendar"}, source)
    limits = _limits(_table(document, "rotation_limits", source), f"{source}: rotation_limits")
    health = _health(_table(document, "health", source), f"{source}: health", limits)
    calendar = _table(document, "calendar", source)
    known_keys(calendar, {"weeks"}, f"{source}: calendar")
    weeks = _whole(calendar, "weeks", f"{source}: calendar", fallback=8, low=1, high=52)
    entries = _tables(document, "roster", source)
    rosters: list[Roster] = []
    for index, entry in enumerate(entries):
        roster = _roster(entry, f"{source}: roster[{index}]", directory)
        if any(other.id == roster.id for other in rosters):
            raise ConfigurationError(f"{source}: roster[{index}].id: {roster.id!r} is used twice")
        rosters.append(roster)
    return Schedule(rosters=tuple(rosters), health=health, calendar_weeks=weeks)


def _health(table: dict[str, Any], where: str, limits: RotationLimits) -> HealthPolicy:
    for moved in sorted(_LIMIT_KEYS & set(table)):  # where these limits lived before [rotation_limits]
        raise ConfigurationError(f"{where}.{moved}: moved to [rotation_limits] {moved}")
    known_keys(table, {"gap_days"}, where)
    return HealthPolicy(gap_days=_whole(table, "gap_days", where, fallback=14, low=1, high=90), limits=limits)


def _limits(table: dict[str, Any], where: str) -> RotationLimits:
    known_keys(table, _LIMIT_KEYS, where)
    return RotationLimits(
        max_shift_days=_whole(table, "max_shift_days", where, fallback=4, low=1, high=28),
        min_people=_whole(table, "min_people", where, fallback=3, low=1, high=50),
    )


def _roster(entry: dict[str, Any], where: str, directory: Directory) -> Roster:
    known_keys(entry, {"id", "name", "time_zone", "workflow_url", "escalation_workflow_url", "layer"}, where)
    roster_id = config_text(entry, "id", where)
    if not _ID.fullmatch(roster_id):
        raise ConfigurationError(
            f"{where}.id: {roster_id!r} must be lower-case letters, digits, '-' or '_' (at most 40), as in URLs"
        )
    zone = _zone(entry, "time_zone", where, "UTC")
    layers: list[Layer] = []
    for index, layer_entry in enumerate(_tables(entry, "layer", where)):
        layer = _layer(layer_entry, f"{where}.layer[{index}]", zone, directory)
        if any(other.name == layer.name for other in layers):
            raise ConfigurationError(f"{where}.layer[{index}].name: {layer.name!r} is used twice")
        layers.append(layer)
    if not any(layer.name == PRIMARY for layer in layers):
        raise ConfigurationError(f"{where}.layer: a roster needs a {PRIMARY!r} layer ([[roster.layer]])")
    return Roster(
        id=roster_id,
        name=config_text(entry, "name", where) if "name" in entry else roster_id,
        layers=tuple(layers),
        workflow_url=_url(entry, "workflow_url", where),
        escalation_workflow_url=_url(entry, "escalation_workflow_url", where),
        time_zone=zone,
    )


def _layer(entry: dict[str, Any], where: str, roster_zone: str, directory: Directory) -> Layer:
    known_keys(entry, {"name", "rotation"}, where)
    name = config_text(entry, "name", where)
    if not _ID.fullmatch(name):
        raise ConfigurationError(f"{where}.name: {name!r} must be lower-case letters, digits, '-' or '_'")
    entries = _tables(entry, "rotation", where)
    if not entries:
        raise ConfigurationError(f"{where}.rotation: a layer needs at least one rotation ([[roster.layer.rotation]])")
    rotations = [_rotation(item, f"{where}.rotation[{i}]", roster_zone, directory) for i, item in enumerate(entries)]
    for index, rotation in enumerate(rotations):
        if any(other.name == rotation.name for other in rotations[:index]):
            raise ConfigurationError(f"{where}.rotation[{index}].name: {rotation.name!r} is used twice")
    return Layer(name=name, rotations=tuple(rotations))


def _rotation(entry: dict[str, Any], where: str, roster_zone: str, directory: Directory) -> Rotation:
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ConfigurationError(f"{where}.kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    known_keys(entry, _ROTATION_KEYS | _KIND_KEYS[kind], where)
    name = config_text(entry, "name", where)
    members = _members(entry, where, directory)
    windows = _windows(entry, where, kind)
    if kind == FOLLOW_THE_SUN:
        return Rotation(name=name, kind=kind, members=members, windows=windows)
    zone = _zone(entry, "time_zone", where, roster_zone)
    handoff = _clock(entry, "handoff_time", where)
    start = _date(entry, "start", where)
    shift_days = _SHIFT_DAYS.get(kind) or _whole(entry, "shift_days", where, fallback=None, low=1, high=28)
    if kind == WEEKLY:
        weekday = _weekday(config_text(entry, "handoff_weekday", where), f"{where}.handoff_weekday")
        if start.weekday() != weekday:
            raise ConfigurationError(
                f"{where}.start: {start.isoformat()} is a {WEEKDAYS[start.weekday()]}; a rotation handing off on "
                f"{WEEKDAYS[weekday]}s must start on a {WEEKDAYS[weekday]}"
            )
    return Rotation(
        name=name,
        kind=kind,
        members=members,
        time_zone=zone,
        handoff_time=handoff,
        shift_days=shift_days,
        start=start,
        windows=windows,
    )


def _members(entry: dict[str, Any], where: str, directory: Directory) -> tuple[Person, ...]:
    names = entry.get("members")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigurationError(f"{where}.members: must be a non-empty list of names or emails from people.toml")
    members: list[Person] = []
    for index, text in enumerate(names):
        person = directory.named(text)
        if person not in directory.people:
            raise ConfigurationError(
                f"{where}.members[{index}]: {text!r} is not in people.toml (on-call people must be reachable)"
            )
        if person in members:
            raise ConfigurationError(f"{where}.members[{index}]: {person.name!r} is listed twice")
        members.append(person)
    return tuple(members)


def _windows(entry: dict[str, Any], where: str, kind: str) -> tuple[WeeklyWindow, ...]:
    """`windows` (["fri 17:00 - mon 09:00"]) or `days` and `hours` ("09:00-17:00"; "22:00-06:00" runs past
    midnight; "00:00-24:00" is the whole day) → weekly windows. Follow-the-sun needs hours; days default Mon–Fri."""
    if "windows" in entry and ({"days", "hours"} & set(entry)):
        raise ConfigurationError(f"{where}.windows: give either windows or days and hours, not both")
    if "windows" in entry:
        texts = entry["windows"]
        if not isinstance(texts, list) or not texts or not all(isinstance(text, str) for text in texts):
            raise ConfigurationError(f'{where}.windows: must be a non-empty list like ["fri 17:00 - mon 09:00"]')
        return tuple(_window(text, f"{where}.windows[{i}]") for i, text in enumerate(texts))
    if kind == FOLLOW_THE_SUN and "hours" not in entry:
        raise ConfigurationError(f'{where}.hours: follow_the_sun needs the working hours, e.g. "09:00-17:00"')
    if not {"days", "hours"} & set(entry):
        return ()
    days = _days(entry, where, _WORKING_DAYS if kind == FOLLOW_THE_SUN else WEEKDAYS)
    begins, minutes = _hours(entry.get("hours", "00:00-24:00"), f"{where}.hours")
    return tuple(WeeklyWindow(day * MINUTES_PER_DAY + begins, minutes) for day in days)


def _days(entry: dict[str, Any], where: str, fallback: tuple[str, ...]) -> list[int]:
    names = entry.get("days", list(fallback))
    if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
        raise ConfigurationError(f'{where}.days: must be a non-empty list of weekdays, e.g. ["sat", "sun"]')
    days = [_weekday(name, f"{where}.days") for name in names]
    if len(set(days)) != len(days):
        raise ConfigurationError(f"{where}.days: a day is listed twice")
    return sorted(days)


def _hours(text: Any, where: str) -> tuple[int, int]:
    parts = text.split("-") if isinstance(text, str) else []
    try:
        begins, ends = (_minutes(part, where, allow_24=index == 1) for index, part in enumerate(parts))
    except (ConfigurationError, ValueError):  # ValueError: not two parts
        raise ConfigurationError(f'{where}: must be "HH:MM-HH:MM", e.g. "09:00-17:00", got {text!r}') from None
    if begins == ends % MINUTES_PER_DAY and ends != MINUTES_PER_DAY:
        raise ConfigurationError(f'{where}: {text!r} is empty; use "00:00-24:00" for the whole day')
    return begins, (ends - begins) % MINUTES_PER_DAY or MINUTES_PER_DAY


def _window(text: str, where: str) -> WeeklyWindow:
    match = _WINDOW.fullmatch(text.lower())
    if not match:
        raise ConfigurationError(f'{where}: must be "<day> HH:MM - <day> HH:MM", e.g. "fri 17:00 - mon 09:00"')
    opens_day, opens_at, closes_day, closes_at = match.groups()
    opens = _weekday(opens_day, where) * MINUTES_PER_DAY + _minutes(opens_at, where)
    closes = _weekday(closes_day, where) * MINUTES_PER_DAY + _minutes(closes_at, where)
    minutes = (closes - opens) % MINUTES_PER_WEEK
    if minutes == 0:
        raise ConfigurationError(f"{where}: {text!r} is a whole week; leave windows out for around the clock")
    return WeeklyWindow(opens, minutes)


def _weekday(text: str, where: str) -> int:
    word = text.strip().lower()
    matches = [index for index, day in enumerate(WEEKDAYS) if len(word) >= 3 and day.startswith(word)]
    if len(matches) != 1:
        raise ConfigurationError(f"{where}: {text!r} is not a weekday (monday … sunday, or mon … sun)")
    return matches[0]


def _minutes(text: str, where: str, *, allow_24: bool = False) -> int:
    match = _CLOCK.fullmatch(text.strip())
    hours, minutes = (int(match.group(1)), int(match.group(2))) if match else (99, 99)
    if allow_24 and (hours, minutes) == (24, 0):
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        raise ConfigurationError(f"{where}: {text.strip()!r} is not a time of day HH:MM")
    return hours * 60 + minutes


def _clock(entry: dict[str, Any], key: str, where: str) -> time:
    value = entry.get(key)
    if isinstance(value, time) and value.tzinfo is None:
        return value.replace(second=0, microsecond=0)
    if not isinstance(value, str):
        raise ConfigurationError(f'{where}.{key}: must be a local time "HH:MM", got {value!r}')
    minutes = _minutes(value, f"{where}.{key}")
    return time(minutes // 60, minutes % 60)


def _date(entry: dict[str, Any], key: str, where: str) -> date:
    value = entry.get(key)
    if isinstance(value, date) and not hasattr(value, "hour"):  # TOML `start = 2026-01-05`, not a date-time
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigurationError(f"{where}.{key}: must be the date of the first hand-off, e.g. 2026-01-05, got {value!r}")


def _zone(entry: dict[str, Any], key: str, where: str, fallback: str) -> str:
    zone = entry.get(key, fallback)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigurationError(f"{where}.{key}: {zone!r} is not an IANA time zone") from None
    return zone


def _whole(table: dict[str, Any], key: str, where: str, *, fallback: int | None, low: int, high: int) -> int:
    value = table.get(key, fallback)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(f"{where}.{key}: must be a whole number from {low} to {high}, got {value!r}")
    return value


def _url(table: dict[str, Any], key: str, where: str) -> str | None:
    if key not in table:
        return None
    url = config_text(table, key, where)
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise ConfigurationError(f"{where}.{key}: must be an https URL, got {url[:60]!r}")
    return url


def _table(document: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where}: [{key}] must be a table")
    return value


def _tables(document: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigurationError(f"{where}.{key}: must be an array of tables ([[{key}]])")
    return value
