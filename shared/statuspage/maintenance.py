"""Scheduled maintenance: a window, announced in public words, during which components are under maintenance.

Pure. Declared through `POST /api/maintenances` or the Teams `maintenance` command; shown on the status page and
in the Statuspage-compatible `scheduled-maintenances*.json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.catalog.services import Catalog
from shared.core.errors import InvalidInput
from shared.core.json_body import text_field
from shared.core.timeutil import iso

# Statuspage's scheduled-maintenance statuses that Firebell derives from the clock.
SCHEDULED, IN_PROGRESS, COMPLETED = "scheduled", "in_progress", "completed"


@dataclass(frozen=True)
class Maintenance:
    id: str  # "MNT-3"
    name: str  # public words, e.g. "Database upgrade"
    components: tuple[str, ...]  # public component names (from the service catalog)
    scheduled_for: datetime
    scheduled_until: datetime
    created_at: datetime
    updated_at: datetime
    description: str = ""  # public words shown with the maintenance
    cancelled_at: datetime | None = None
    version: int = 1

    def status(self, now: datetime) -> str:
        """Where the window stands at `now`; a cancelled window is over from the moment it was cancelled."""
        end = min(self.scheduled_until, self.cancelled_at) if self.cancelled_at else self.scheduled_until
        if now >= end:
            return COMPLETED
        return IN_PROGRESS if now >= self.scheduled_for else SCHEDULED


# --- declaring and cancelling ------------------------------------------------------------------------------------
# Limits that keep a window something a person can reason about, and the page readable.
MAX_WINDOW = timedelta(days=30)
MAX_LEAD = timedelta(days=366)  # declared at most a year (and a day) ahead
MAX_COMPONENTS = 50
_LIMITS = {"name": 200, "description": 4000}
_TIMES = ("scheduled_for", "scheduled_until")
FIELDS = ("name", "components", *_TIMES, "description")


@dataclass(frozen=True)
class MaintenancePlan:
    """A validated declaration, before it has an id."""

    name: str
    components: tuple[str, ...]  # public component names, in the order given
    scheduled_for: datetime
    scheduled_until: datetime
    description: str = ""


def maintenance_id(number: int) -> str:
    return f"MNT-{number}"


def maintenance_number(ident: str) -> int | None:
    """The number in 'MNT-3' (case-insensitive), or None when the text is not a maintenance id."""
    prefix, _, digits = ident.strip().partition("-")
    if prefix.upper() != "MNT" or not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        return None
    return int(digits)


def parse_maintenance(document: Mapping[str, Any], catalog: Catalog, now: datetime) -> MaintenancePlan:
    """Check a declaration strictly; every refusal names the field, and nothing is stored before this passes."""
    unknown = sorted(set(document) - set(FIELDS), key=str)
    if unknown:
        raise InvalidInput(f"unknown field {str(unknown[0])[:40]!r}; accepted fields: {', '.join(FIELDS)}")
    starts, ends = (_instant(document, name) for name in _TIMES)
    if ends <= starts:
        raise InvalidInput("scheduled_until must be after scheduled_for")
    if ends - starts > MAX_WINDOW:
        raise InvalidInput(f"the window is {_days(ends - starts)} long; a maintenance lasts at most 30 days")
    if ends <= now:
        raise InvalidInput("scheduled_until is in the past: the maintenance would be over before it is announced")
    if starts - now > MAX_LEAD:
        raise InvalidInput("scheduled_for is more than a year ahead")
    return MaintenancePlan(
        name=_text(document, "name", required=True),
        components=_components(document.get("components"), catalog),
        scheduled_for=starts,
        scheduled_until=ends,
        description=_text(document, "description", required=False),
    )


def schedule(plan: MaintenancePlan, number: int, now: datetime) -> Maintenance:
    return Maintenance(
        id=maintenance_id(number),
        name=plan.name,
        components=plan.components,
        scheduled_for=plan.scheduled_for,
        scheduled_until=plan.scheduled_until,
        created_at=now,
        updated_at=now,
        description=plan.description,
    )


def cancel(maintenance: Maintenance, now: datetime) -> Maintenance:
    """The maintenance called off at `now`; cancelling twice changes nothing (a retried request), and a window
    that already ended cannot be cancelled any more."""
    if maintenance.cancelled_at is not None:
        return maintenance
    if now >= maintenance.scheduled_until:
        raise InvalidInput(f"{maintenance.id} ended at {iso(maintenance.scheduled_until)}; there is nothing to cancel")
    return replace(maintenance, cancelled_at=now, updated_at=now, version=maintenance.version + 1)


def changes_ahead(maintenance: Maintenance, now: datetime) -> tuple[tuple[str, datetime], ...]:
    """The moments after `now` at which the window's status changes by the clock alone: ("starts", …), ("ends", …)."""
    if maintenance.cancelled_at is not None:
        return ()
    moments = (("starts", maintenance.scheduled_for), ("ends", maintenance.scheduled_until))
    return tuple((what, moment) for what, moment in moments if moment > now)


def _text(document: Mapping[str, Any], name: str, *, required: bool) -> str:
    return text_field(document, name, _LIMITS[name], required=required)


def _instant(document: Mapping[str, Any], name: str) -> datetime:
    value = document.get(name)
    if not isinstance(value, str) or len(value) > 40:
        what = "missing" if value is None else repr(value)[:40]
        raise InvalidInput(f"{name} must be an ISO 8601 time with a zone (e.g. 2026-04-01T22:00:00Z), got {what}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 time with a zone, got {value!r}") from None
    if moment.tzinfo is None:
        # A window announced to customers everywhere must not depend on whose clock read it.
        raise InvalidInput(f"{name} has no time zone; add one, e.g. {value}Z or {value}+02:00")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted across midnight
        raise InvalidInput(f"{name} {value!r} is out of range") from None


def _components(value: object, catalog: Catalog) -> tuple[str, ...]:
    """Public component names, or service ids from the catalog — both name what customers see."""
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise InvalidInput("components must be a non-empty list of component names or service ids")
    if len(value) > MAX_COMPONENTS:
        raise InvalidInput(f"components lists {len(value)} entries; the limit is {MAX_COMPONENTS}")
    known = catalog.public_components()  # an internal service's component is not on the page
    by_folded_name = {name.casefold(): name for name in known}
    names: list[str] = []
    for item in value:
        service = catalog.service(item)
        service = service if service is not None and service.public else None
        name = item if item in known else service.component if service else by_folded_name.get(item.casefold())
        if name is None:
            ids = [service.id for service in catalog.services if service.public]
            raise InvalidInput(
                f"component {item[:80]!r} is not on the status page; use a component ({', '.join(known)}) "
                f"or a service id ({', '.join(ids)})"
            )
        names.append(name)
    return tuple(dict.fromkeys(names))


def _days(span: timedelta) -> str:
    return f"{span.total_seconds() / 86400:.1f} days"
