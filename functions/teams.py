"""POST /api/teams: the Teams outgoing webhook. `@firebell <command>` drives an incident from a channel.

Anonymous at the Functions level: the HMAC signature Teams computes with the webhook's security token is the
credential, checked before the body is even parsed. Teams waits at most 5 s for the reply.
"""

from __future__ import annotations

import hashlib
import logging
import os

import azure.functions as func

from functions import context
from functions.http_edge import http_endpoint, json_response
from functions.statuspage import refresh_message
from shared.alert import decode_json_object
from shared.chatops import Said
from shared.chatops_grammar import parse_command
from shared.chatops_intake import handle
from shared.errors import ConfigurationError, PayloadTooLarge
from shared.settings import MAX_BODY_BYTES
from shared.teams_activity import parse_activity
from shared.teams_signature import verify_signature
from shared.timeutil import utc_now

bp = func.Blueprint()
log = logging.getLogger("firebell.teams")
TOKEN_SETTING = "TEAMS_OUTGOING_WEBHOOK_TOKEN"  # noqa: S105 (the setting's name, not a secret)


@bp.function_name("teams")
@bp.route(route="teams", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.queue_output(arg_name="statuspage", queue_name="statuspage", connection="AzureWebJobsStorage")
@http_endpoint
def on_message(req: func.HttpRequest, statuspage: func.Out[str]) -> func.HttpResponse:
    body = req.get_body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes (256 KB)")
    token = os.environ.get(TOKEN_SETTING, "")
    if not token:
        raise ConfigurationError(f"the Teams outgoing webhook is not configured ({TOKEN_SETTING} is empty)")
    verify_signature(body, req.headers.get("Authorization"), token)
    message = parse_activity(decode_json_object(body))
    person = context.people().identify(message.speaker.name, message.speaker.teams_id, message.speaker.aad_object_id)
    # The signed body identifies the message: a redelivery of the same bytes is recorded once.
    said = Said(message.text, person.name, utc_now(), hashlib.sha256(body).hexdigest()[:20])
    decision = handle(parse_command(message.text), said, context.incident_store(), context.catalog(), _site())
    if decision.incident_id and decision.events and (decision.changed is not None or decision.events[0].public):
        statuspage.set(refresh_message(decision.incident_id, decision.events[-1].event_id))
    log.info("teams: %s by %s → %s", message.text.split(" ", 1)[0][:20], person.name, decision.incident_id)
    return json_response(200, decision.reply)


def _site() -> str:
    return context.settings().status_page_url
