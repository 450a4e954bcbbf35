"""Reaching paged people on their phones (shared.contacts): the `contacts` queue (their SMS and voice rule steps),
`POST /api/acs/events` (Event Grid: SMS replies and delivery reports from Communication Services), `POST
/api/acs/calls` (Call Automation's callback events: the keypress on a call) and the signed
one-time acknowledgement links `GET/POST /api/ack/{token}`; `POST /api/test-page` sends a harmless test through
every channel of a person's rules.

The event, callback and link routes are anonymous at the Functions level: Event Grid and Call Automation send no
function key, so the URL they are given carries ACS_EVENTS_SECRET (`?secret=`); a link's signature is its
credential. A link's GET only
shows what it would do (phones and chat apps fetch links to preview them); the POST its page sends acknowledges.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions import context
from functions.http_edge import announce, http_endpoint, json_response
from functions.lazy import lazy
from shared.core import storage
from shared.core.errors import InvalidInput, Unauthorized
from shared.core.json_body import decode_json_object, require_bounded
from shared.core.queues import CONNECTION, CONTACTS
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.changes import incident_of
from shared.incidents.timeline import ACKNOWLEDGED

if TYPE_CHECKING:
    from shared.chatops.rules import Decision

authorization = lazy("shared.chatops.authorization")
calls = lazy("shared.contacts.calls")
contact = lazy("shared.contacts.contact")
event_grid = lazy("shared.contacts.event_grid")
inbound = lazy("shared.contacts.inbound")
ledger = lazy("shared.contacts.ledger")
jinja2 = lazy("jinja2")
paging_test = lazy("shared.contacts.test_page")

bp = func.Blueprint()
log = logging.getLogger("firebell.contacts")


@bp.function_name("contacts")
@bp.queue_trigger(arg_name="message", queue_name=CONTACTS, connection=CONNECTION)
def on_contact(message: func.QueueMessage) -> None:
    body, delivery = message.get_body(), message.dequeue_count or 1
    deferred = contact.on_contact(body, message.id or "", delivery, utc_now(), context.notifier())
    outcome = "deferred" if deferred is not None else "handled"
    log_event(log, "contact step", incident=incident_of(body), function="contacts", outcome=outcome, delivery=delivery)


@bp.function_name("acs_events")
@bp.route(route="acs/events", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@http_endpoint
def acs_events(req: func.HttpRequest) -> func.HttpResponse:
    # The URL's secret or Event Grid's Entra ID token, before the body is read.
    credential = context.authenticate_acs_events(req.params.get("secret"), req.headers.get("Authorization"))
    body = req.get_body()
    require_bounded(body)
    batch = event_grid.events(_json(body))
    code = event_grid.validation_code(batch)
    if code is not None:
        log_event(log, "event grid validation", function="acs_events", outcome="validated", credential=credential)
        return json_response(200, {"validationResponse": code})
    config = context.configuration()
    handled = inbound.on_events(batch, utc_now(), context.notifier(), config.people(), config.catalog(), _refuse_for)
    for decision in handled.decisions:
        _announce(decision)
    log_event(
        log,
        "acs events",
        function="acs_events",
        outcome="handled",
        acks=len(handled.decisions),
        reports=handled.reports,
        ignored=handled.ignored,
        credential=credential,  # "entra" or "secret": which one Event Grid used
    )
    return json_response(200, {"acknowledged": _acknowledged(handled.decisions), "reports": handled.reports})


@bp.function_name("acs_calls")
@bp.route(route="acs/calls", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@http_endpoint
def acs_calls(req: func.HttpRequest) -> func.HttpResponse:
    settings = context.settings()
    event_grid.authenticate(req.params.get("secret"), settings.acs_events_secret)  # the callback URL carries it
    body = req.get_body()
    require_bounded(body)
    batch = calls.events(_json(body))
    placer = contact.call_placer(settings)
    if placer is None:
        return json_response(200, {"acknowledged": 0, "asked": 0, "escalated": 0})  # no calls placed: none of ours
    config = context.configuration()
    handled = calls.on_call_events(batch, utc_now(), context.notifier(), config.people(), placer, _refuse_for)
    for decision in handled.decisions:
        _announce(decision)
    log_event(log, "call events", function="acs_calls", outcome="handled", acks=len(handled.decisions))
    answer = {"acknowledged": _acknowledged(handled.decisions), "asked": handled.asked, "escalated": handled.escalated}
    return json_response(200, answer)


@bp.function_name("test_page")
@bp.route(route="test-page", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def test_page(req: func.HttpRequest) -> func.HttpResponse:
    fields = decode_json_object(req.get_body())
    person = fields.get("person")
    if not isinstance(person, str) or not person.strip() or len(person) > 200:
        raise InvalidInput('expected {"person": "<a name or email from people.toml>"}')
    name, attempts = paging_test.test_page(person, utc_now(), context.notifier())
    log_event(log, "test page", function="test_page", outcome="sent", channels=len(attempts))
    return json_response(200, {"person": name, "channels": [attempt.to_json() for attempt in attempts]})


@bp.function_name("ack_link")
@bp.route(route="ack/{token}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
@http_endpoint
def ack_link(req: func.HttpRequest) -> func.HttpResponse:
    token = req.route_params.get("token", "")
    settings, now = context.settings(), utc_now()
    contacts = ledger.ContactLedger(storage.account())
    try:
        if req.method == "GET":
            grant = inbound.link_grant(token, now, settings.ack_link_key, contacts)
            return _page(200, f"Acknowledge {grant.incident} as {grant.person}?", grant.incident, confirm=True)
        config = context.configuration()
        grant, decision = inbound.acknowledge_by_link(
            token, now, settings.ack_link_key, contacts, context.incident_store(), config.catalog(), _refuse_for
        )
    except Unauthorized as refusal:
        if "text/html" not in (req.headers.get("Accept") or ""):
            raise  # the error shape, for anything but a browser
        return _page(401, refusal.detail, None)
    _announce(decision)
    log_event(log, "ack link", incident=grant.incident, function="ack_link", outcome="acknowledged")
    return _page(200, _reply_text(decision), grant.incident)


def _refuse_for(name: str) -> Any:
    config = context.configuration()
    return authorization.gate(
        config.authorization(), authorization.Sender(name, True), config.catalog(), config.schedule()
    )


def _announce(decision: Decision) -> None:
    acted = [event for event in decision.events if event.kind != "chat.message"]
    if decision.incident_id and acted:
        announce(decision.incident_id, [event.event_id for event in acted], kinds=[event.kind for event in acted])


def _acknowledged(decisions: list[Decision]) -> int:
    """How many of the decisions acknowledged (an `ACK 99` for no such incident, or a closed one, did not)."""
    return sum(1 for decision in decisions if any(event.kind == ACKNOWLEDGED for event in decision.events))


def _reply_text(decision: Decision) -> str:
    text = decision.reply.get("text") if isinstance(decision.reply, dict) else None
    return str(text or "Done.").replace("**", "")


def _json(body: bytes) -> Any:
    """A JSON array or object (decode_json_object takes objects only; Event Grid posts arrays)."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as problem:
        raise InvalidInput(f"body is not valid JSON: {problem}", code="invalid_json") from None


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>Firebell</title></head><body style="font-family: system-ui, sans-serif; margin: 2em">
<h1>Firebell</h1><p>{{ text }}</p>
{% if confirm %}<form method="post"><button type="submit" style="font-size: 1.5em">Acknowledge {{ incident }}</button>
</form>{% endif %}</body></html>"""


def _page(status: int, text: str, incident: str | None, *, confirm: bool = False) -> func.HttpResponse:
    html = jinja2.Environment(autoescape=True).from_string(_PAGE).render(text=text, incident=incident, confirm=confirm)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return func.HttpResponse(html, status_code=status, mimetype="text/html", charset="utf-8", headers=headers)
