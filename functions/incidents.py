"""The incidents API: POST /api/incidents declares one (support desk, SLO tooling, people, drills); GET reads them,
and a drill's report."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions import context
from functions.http_edge import announce, http_endpoint, json_response, routed_incident
from functions.lazy import lazy
from shared.core.errors import InvalidInput, NotFound
from shared.core.json_body import decode_json_object
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.incident import Incident, status_filter

if TYPE_CHECKING:
    from shared.incidents.timeline import TimelineEvent

declaration_intake = lazy("shared.incidents.declaration_intake")
declaration = lazy("shared.incidents.declaration")
drill_report = lazy("shared.incidents.drill_report")
internal_view = lazy("shared.incidents.internal_view")

bp = func.Blueprint()
log = logging.getLogger("firebell.incidents")

_MAX_IDEMPOTENCY_KEY = 200


@bp.function_name("declare_incident")
@bp.route(route="incidents", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def declare_incident(req: func.HttpRequest) -> func.HttpResponse:
    now = utc_now()
    declared_as = declaration.parse_declaration(decode_json_object(req.get_body()), context.catalog(), now)
    claim = _idempotency_claim(req.headers.get("Idempotency-Key"))
    declared = declaration_intake.open_declared(declared_as, claim, context.incident_store(), context.catalog(), now)
    if declared.event is not None:  # a retry that finished what its first attempt began announces it too
        event = declared.event
        announce(declared.incident.id, [event.event_id], kinds=[event.kind])
    log_event(
        log,
        "incident declared",
        incident=declared.incident.id,
        event=declared.event.event_id if declared.event else None,
        function="declare_incident",
        outcome="declared" if declared.created else "repeated",
        source=declared_as.source,
        drill=declared_as.drill or None,  # only drills carry the dimension
    )
    if not declared.created:
        return json_response(200, _document(declared.incident))  # a retry: the incident the first attempt opened
    return json_response(201, _document(declared.incident))


@bp.function_name("list_incidents")
@bp.route(route="incidents", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def list_incidents(req: func.HttpRequest) -> func.HttpResponse:
    statuses = status_filter(req.params.get("status"))
    incidents = context.incident_store().list_incidents(statuses)
    return json_response(200, {"incidents": [_document(incident) for incident in incidents]})


@bp.function_name("get_incident")
@bp.route(route="incidents/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def get_incident(req: func.HttpRequest) -> func.HttpResponse:
    ident = routed_incident(req)
    store = context.incident_store()
    incident = store.get_incident(ident)
    if incident is None:
        raise NotFound(f"there is no incident {ident}")
    return json_response(200, _document(incident, store.timeline(incident.id)))


@bp.function_name("drill_report")
@bp.route(route="incidents/{id}/drill", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def get_drill_report(req: func.HttpRequest) -> func.HttpResponse:
    ident = routed_incident(req)
    store = context.incident_store()
    incident = store.get_incident(ident)
    if incident is None:
        raise NotFound(f"there is no incident {ident}")
    if not incident.drill:
        raise NotFound(f"{incident.id} is not a drill; its figures are in GET /api/metrics")
    report = drill_report.drill_report(incident, store.timeline(incident.id), utc_now())
    return json_response(200, drill_report.report_document(report))


def _document(incident: Incident, timeline: list[TimelineEvent] | None = None) -> dict[str, Any]:
    return internal_view.incident_document(incident, context.catalog().service(incident.service), timeline)


def _idempotency_claim(key: str | None) -> str | None:
    """Tools retry; the same Idempotency-Key header gives the same incident, never a second one."""
    if key is None:
        return None
    if not key.strip() or len(key) > _MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(f"Idempotency-Key must be 1 to {_MAX_IDEMPOTENCY_KEY} characters")
    return "declared-" + hashlib.sha256(key.encode()).hexdigest()[:32]
