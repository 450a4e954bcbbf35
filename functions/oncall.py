"""On-call over HTTP: who is on call now and next (GET /api/oncall), a roster's calendar feed
(GET /api/oncall/{roster}.ics) and overrides (POST and GET /api/oncall/overrides).

Each request reads only the overrides that overlap the time it asks about; everything else is the schedule
loaded once per process and pure functions over it.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import azure.functions as func

from functions import context
from functions.http_edge import http_endpoint, json_response
from functions.lazy import lazy
from shared.core.errors import InvalidInput
from shared.core.json_body import decode_json_object
from shared.core.timeutil import iso, parse_instant, utc_now

calendar = lazy("shared.oncall.calendar")  # icalendar loads only for calendar requests (~120 ms)
documents = lazy("shared.oncall.documents")
lookup = lazy("shared.oncall.lookup")
override = lazy("shared.oncall.override")
shifts = lazy("shared.oncall.shifts")

bp = func.Blueprint()
log = logging.getLogger("firebell.oncall")

DEFAULT_LISTING = timedelta(days=28)
EARLIEST, LATEST = 1970, 2999
MAX_LISTING = timedelta(days=400)


@bp.function_name("oncall")
@bp.route(route="oncall", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def oncall(req: func.HttpRequest) -> func.HttpResponse:
    """Per roster and layer: the shift now and the next one, and the roster's problems. `?at=` asks about another
    instant; `?roster=` about one roster."""
    at = _instant(req.params.get("at"), "at") or utc_now()
    schedule = context.schedule()
    wanted = req.params.get("roster")
    rosters = [schedule.roster(wanted)] if wanted else list(schedule.rosters)
    store = context.override_store()
    found = [
        documents.roster_document(schedule, roster, at, lookup.overrides_around(schedule, store, roster, at))
        for roster in rosters
    ]
    return json_response(200, {"at": iso(at), "rosters": found})


@bp.function_name("oncall_calendar")
@bp.route(route="oncall/{roster}.ics", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def oncall_calendar(req: func.HttpRequest) -> func.HttpResponse:
    """The next `weeks` (default: oncall.toml [calendar] weeks) of every layer's shifts, overrides applied."""
    now = utc_now()
    at = _instant(req.params.get("at"), "at") or now
    schedule = context.schedule()
    roster = schedule.roster(req.route_params.get("roster", ""))
    weeks = _weeks(req.params.get("weeks"), schedule.calendar_weeks)
    # Looking back finds the real start of the shift in progress, so its UID is the same in every refresh.
    start, end = at - shifts.LOOKBACK, at + timedelta(weeks=weeks)
    overrides = context.override_store().overlapping(roster.id, start, end)
    found = []
    for layer in roster.layers:
        found += [s for s in shifts.shifts(schedule, roster.id, layer.name, start, end, overrides) if s.end > at]
    body = calendar.roster_calendar(roster, sorted(found, key=lambda s: (s.start, s.layer)), now)
    return func.HttpResponse(
        body,
        status_code=200,
        mimetype="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'inline; filename="{roster.id}.ics"'},
    )


@bp.function_name("set_oncall_override")
@bp.route(route="oncall/overrides", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def set_oncall_override(req: func.HttpRequest) -> func.HttpResponse:
    """Put someone on call: JSON roster, person, start, end; optional layer (primary) and created_by."""
    now = utc_now()
    asked = override.parse_override(decode_json_object(req.get_body()), context.schedule(), context.people(), now)
    stored = context.override_store().add(asked)
    log.info(
        "override %s: %s %s covered %s → %s", stored.id, stored.roster, stored.layer, iso(stored.start), iso(stored.end)
    )
    return json_response(201, documents.override_document(stored))


@bp.function_name("list_oncall_overrides")
@bp.route(route="oncall/overrides", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def list_oncall_overrides(req: func.HttpRequest) -> func.HttpResponse:
    """Overrides overlapping [from, to) (default: now to four weeks on), newest first; `?roster=` for one roster."""
    start = _instant(req.params.get("from"), "from") or utc_now()
    end = _instant(req.params.get("to"), "to") or start + DEFAULT_LISTING
    if not start < end <= start + MAX_LISTING:
        raise InvalidInput(f"to must be after from and at most {MAX_LISTING.days} days later")
    schedule = context.schedule()
    wanted = req.params.get("roster")
    rosters = [schedule.roster(wanted)] if wanted else list(schedule.rosters)
    store = context.override_store()
    found = [each for roster in rosters for each in store.overlapping(roster.id, start, end)]
    listed = [documents.override_document(each) for each in found]
    return json_response(200, {"from": iso(start), "to": iso(end), "overrides": listed})


def _instant(text: str | None, name: str) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        moment = parse_instant(text.strip())
    except (ValueError, OverflowError):
        raise InvalidInput(f"{name} {text[:40]!r} is not an ISO 8601 instant, e.g. 2026-12-03T09:00:00Z") from None
    # Shifts are looked for weeks either side: keep the arithmetic far from year 1 and year 9999.
    if not EARLIEST <= moment.year <= LATEST:
        raise InvalidInput(f"{name} must be between the years {EARLIEST} and {LATEST}, got {text[:40]!r}")
    return moment


def _weeks(text: str | None, fallback: int) -> int:
    if text is None:
        return fallback
    if not re.fullmatch(r"[0-9]{1,2}", text.strip()) or not 1 <= int(text) <= 52:
        raise InvalidInput(f"weeks must be a whole number from 1 to 52, got {text[:20]!r}")
    return int(text)
