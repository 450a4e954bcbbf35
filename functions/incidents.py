"""The incidents API: POST /api/incidents declares one (support desk, SLO tooling, people); GET reads them."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from typing import Any

import azure.functions as func

from functions import context
from functions.http_edge import http_endpoint, json_response
from functions.statuspage import refresh_message
from shared.adapters.incident_store import GroupTaken
from shared.alert import decode_json_object
from shared.declaration import declare, parse_declaration
from shared.detection import service_group_key
from shared.errors import InvalidInput, NotFound
from shared.incident import CLOSED_STATUSES, STATUSES, Incident, incident_id, incident_number
from shared.internal_view import incident_document
from shared.timeline import TimelineEvent
from shared.timeutil import utc_now

bp = func.Blueprint()
log = logging.getLogger("firebell.incidents")

OPEN = "open"  # filter shorthand: every status before resolved
_MAX_IDEMPOTENCY_KEY = 200


@bp.function_name("declare_incident")
@bp.route(route="incidents", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.queue_output(arg_name="statuspage", queue_name="statuspage", connection="AzureWebJobsStorage")
@http_endpoint
def declare_incident(req: func.HttpRequest, statuspage: func.Out[str]) -> func.HttpResponse:
    now = utc_now()
    declaration = parse_declaration(decode_json_object(req.get_body()), context.catalog(), now)
    store = context.incident_store()
    claim = _idempotency_claim(req.headers.get("Idempotency-Key"))
    service = context.catalog().service(declaration.service)
    group = service_group_key(service) if service else None
    incident, event = declare(declaration, store.allocate_number(), group, now)
    if claim is not None and not store.claim_alert(claim, incident.id, "Declared", {"reporter": declaration.reporter}):
        # A retry of a declaration we already took: answer with that incident and create nothing new.
        record = store.find_alert(claim)
        assert record is not None and record.incident_id, "a claim that conflicted on insert must exist"
        existing = store.get_incident(record.incident_id)
        if existing is not None:
            return json_response(200, _document(existing))
        # The first attempt stopped before creating its incident: finish it under the number it claimed.
        incident, event = declare(declaration, incident_number(record.incident_id) or incident.number, group, now)
    try:
        store.open_incident(incident)
    except GroupTaken:
        # An open incident collects the service's alerts already; this one stands beside it.
        incident = replace(incident, group=None)
        store.open_incident(incident)
    store.append_event(event)
    statuspage.set(refresh_message(incident.id, event.event_id))
    log.info("%s declared by %s (%s)", incident.id, declaration.reporter, declaration.source)
    return json_response(201, _document(incident))


@bp.function_name("list_incidents")
@bp.route(route="incidents", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def list_incidents(req: func.HttpRequest) -> func.HttpResponse:
    statuses = _status_filter(req.params.get("status"))
    incidents = context.incident_store().list_incidents(statuses)
    return json_response(200, {"incidents": [_document(incident) for incident in incidents]})


@bp.function_name("get_incident")
@bp.route(route="incidents/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def get_incident(req: func.HttpRequest) -> func.HttpResponse:
    text = req.route_params.get("id", "")
    number = incident_number(text)
    if number is None:
        raise InvalidInput(f"{text[:40]!r} is not an incident id (expected INC-<number>)")
    store = context.incident_store()
    incident = store.get_incident(incident_id(number))
    if incident is None:
        raise NotFound(f"there is no incident {incident_id(number)}")
    return json_response(200, _document(incident, store.timeline(incident.id)))


def _document(incident: Incident, timeline: list[TimelineEvent] | None = None) -> dict[str, Any]:
    return incident_document(incident, context.catalog().service(incident.service), timeline)


def _status_filter(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    wanted: list[str] = []
    for name in (part.strip().lower() for part in value.split(",")):
        if name == OPEN:
            wanted += [status for status in STATUSES if status not in CLOSED_STATUSES]
        elif name in STATUSES:
            wanted.append(name)
        else:
            raise InvalidInput(f"status {name[:40]!r} is unknown; use open or one of {', '.join(STATUSES)}")
    return tuple(dict.fromkeys(wanted))


def _idempotency_claim(key: str | None) -> str | None:
    """Tools retry; the same Idempotency-Key header gives the same incident, never a second one."""
    if key is None:
        return None
    if not key.strip() or len(key) > _MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(f"Idempotency-Key must be 1 to {_MAX_IDEMPOTENCY_KEY} characters")
    return "declared-" + hashlib.sha256(key.encode()).hexdigest()[:32]
