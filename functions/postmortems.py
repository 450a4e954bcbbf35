"""Post-incident reviews: the `postmortems` queue keeps each review's draft current (shared.postmortems.flows), and
the routes start a review, close an incident and read the draft."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import azure.functions as func

from functions import context
from functions.http_edge import announce, http_endpoint, json_response, routed_incident
from functions.lazy import lazy
from functions.observed import consumed
from shared.core import storage
from shared.core.errors import InvalidInput, NotFound
from shared.core.json_body import decode_json_object, text_field
from shared.core.queues import CONNECTION, POSTMORTEMS
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.changes import incident_of

if TYPE_CHECKING:
    from shared.postmortems.flows import Moved

flows = lazy("shared.postmortems.flows")
internal_view = lazy("shared.incidents.internal_view")
store = lazy("shared.postmortems.store")

bp = func.Blueprint()
log = logging.getLogger("firebell.postmortems")
MAX_PERSON = 100


@bp.function_name("postmortems")
@bp.queue_trigger(arg_name="message", queue_name=POSTMORTEMS, connection=CONNECTION)
@consumed(POSTMORTEMS)
def on_change(message: func.QueueMessage) -> None:
    body, delivery = message.get_body(), message.dequeue_count or 1
    outcome = flows.on_change(
        body,
        context.incident_store(),
        store.DraftStore(storage.account()),
        context.configuration(),
        draft_url=draft_url,
        wiki=context.review_wiki(),
        ready=flows.card_once(context.notifier(), utc_now(), delivery),
    )
    log_event(log, "review drafted", incident=incident_of(body), function="postmortems", outcome=outcome)


def draft_url(ident: str) -> str:
    base = context.settings().api_base_url
    return f"{base}/incidents/{ident}/postmortem" if base else ""


@bp.function_name("get_postmortem")
@bp.route(route="incidents/{id}/postmortem", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def get_postmortem(req: func.HttpRequest) -> func.HttpResponse:
    ident = routed_incident(req)
    form = store.HTML if "text/html" in (req.headers.get("Accept") or "").lower() else store.MARKDOWN
    text = store.DraftStore(storage.account()).read(ident, form)
    if text is None:
        if context.incident_store().get_incident(ident) is None:
            raise NotFound(f"there is no incident {ident}")
        raise NotFound(
            f"{ident} has no review draft yet: it is drafted when a SEV1–SEV2 incident resolves, or when its review "
            f"starts (postmortem {ident} <facilitator>)"
        )
    return func.HttpResponse(
        text, status_code=200, headers={"Content-Type": store.CONTENT_TYPES[form], "Vary": "Accept"}
    )


@bp.function_name("start_postmortem")
@bp.route(route="incidents/{id}/postmortem", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def start_postmortem(req: func.HttpRequest) -> func.HttpResponse:
    ident = routed_incident(req)
    document = _body(req, {"by", "facilitator"})
    by = text_field(document, "by", MAX_PERSON)
    facilitator = text_field(document, "facilitator", MAX_PERSON, required=False) or None
    moved = flows.start_review(context.incident_store(), ident, facilitator, by, utc_now())
    return _moved(moved, "start_postmortem")


@bp.function_name("close_incident")
@bp.route(route="incidents/{id}/close", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def close_incident(req: func.HttpRequest) -> func.HttpResponse:
    ident = routed_incident(req)
    by = text_field(_body(req, {"by"}), "by", MAX_PERSON)
    moved = flows.close(context.incident_store(), ident, context.configuration().review(), by, utc_now())
    return _moved(moved, "close_incident")


def _moved(moved: Moved, function: str) -> func.HttpResponse:
    incident, event = moved.incident, moved.event
    announce(incident.id, [event.event_id], kinds=[event.kind])
    log_event(
        log, "review moved", incident=incident.id, event=event.event_id, function=function, outcome=incident.status
    )
    document = internal_view.incident_document(incident, context.catalog().service(incident.service))
    if moved.warning:
        document["warning"] = moved.warning
    return json_response(200, document)


def _body(req: func.HttpRequest, fields: set[str]) -> dict:
    document = decode_json_object(req.get_body())
    unknown = sorted(set(document) - fields)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}; accepted fields: {', '.join(sorted(fields))}")
    return document
