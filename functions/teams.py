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
from functions.http_edge import announce, http_endpoint, json_response
from shared.chatops import authorization, channel_context, desk
from shared.chatops.authorization import Sender
from shared.chatops.grammar import Invalid, SendTestPage, parse_command
from shared.chatops.intake import handle, with_known_person
from shared.chatops.rules import Decision, Said
from shared.core import storage
from shared.core.json_body import decode_json_object, require_bounded
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.timeline import CHAT_MESSAGE, NOTE
from shared.teams import freshness
from shared.teams.activity import parse_activity
from shared.teams.reply import plain, text_reply
from shared.teams.signature import TOKEN_SETTING, verify_signature

bp = func.Blueprint()
log = logging.getLogger("firebell.teams")
TALK = (CHAT_MESSAGE, NOTE)  # words on the timeline that change nothing anyone else acts on


@bp.function_name("teams")
@bp.route(route="teams", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@http_endpoint
def on_message(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    require_bounded(body)
    verify_signature(body, req.headers.get("Authorization"), os.environ.get(TOKEN_SETTING, ""))
    message = parse_activity(decode_json_object(body))
    now = utc_now()
    stale = freshness.refusal(message.sent_at, now)
    if stale is not None:  # a replayed or long-delayed message: its signature is still good, its moment is gone
        log_event(log, "teams command", function="teams", outcome="stale")
        return json_response(200, text_reply(stale))
    speaker = message.speaker
    person, listed = context.people().sender(speaker.name, speaker.teams_id, speaker.aad_object_id)
    # The signed body identifies the message, and Teams' timestamp (fresh, checked above) names its events: a
    # redelivery of the same bytes is recorded once.
    text = _in_its_channel(message.text, message.conversation_id)
    said = Said(text, person.name, now, hashlib.sha256(body).hexdigest()[:20], message.sent_at)
    command = with_known_person(parse_command(text), message, context.people())
    config = context.configuration()
    sender = Sender(person.name, listed)
    refuse = authorization.gate(config.authorization(), sender, config.catalog(), config.schedule())
    if isinstance(command, SendTestPage):  # reaches people's phones: shared.contacts, above chatops
        refused = refuse(command, None)
        decision = Decision(text_reply(refused[:1].upper() + refused[1:] if refused else _test_page(command.person)))
    elif isinstance(command, desk.DESK_COMMANDS):
        refused = refuse(command, None)
        decision = (
            Decision(text_reply(refused[:1].upper() + refused[1:]))
            if refused
            else desk.answer(command, said, config, context.maintenance_store(), storage.account())
        )
    else:
        decision = handle(
            command, said, context.incident_store(), context.catalog(), _site(), refuse, review=config.review()
        )
    acted = [event for event in decision.events if event.kind not in TALK]
    if decision.incident_id and acted:
        kinds = [event.kind for event in acted]
        announce(decision.incident_id, [event.event_id for event in acted], kinds=kinds)
    log_event(
        log,
        "teams command",
        incident=decision.incident_id,
        event=acted[-1].event_id if acted else None,
        function="teams",
        outcome="changed" if acted else "answered",
        command=type(command).__name__.lower(),  # the command's kind, never its words
        drill=True if decision.changed is not None and decision.changed.drill else None,  # a change to a drill
    )
    return json_response(200, decision.reply)


def _in_its_channel(text: str, conversation_id: str | None) -> str:
    """`ack` said in INC-7's own channel is `ack INC-7` (shared.chatops.channel_context). Storage is read only for a
    command that needs an id and has none, in a channel, with incident channels configured."""
    parsed = parse_command(text)
    if (
        not isinstance(parsed, Invalid)
        or parsed.incident_id is not None
        or parsed.command not in channel_context.TAKES_ID
    ):
        return text
    channel = channel_context.channel_of(conversation_id)
    if channel is None or not context.settings().graph_team_id:
        return text
    from shared.channels.ledger import CHANNELS_TABLE, ChannelLedger

    incident = ChannelLedger(storage.account().table(CHANNELS_TABLE)).incident_of(channel)
    placed = channel_context.with_channel_incident(text, incident) if incident else None
    return placed or text


def _test_page(person: str) -> str:
    from shared.contacts.test_page import test_page
    from shared.core.errors import NotFound

    try:
        name, attempts = test_page(person, utc_now(), context.notifier())
    except NotFound as missing:
        return f"{plain(missing.detail)}: nothing was sent."
    lines = [f"- {attempt.channel}: {attempt.outcome} ({plain(attempt.detail)})" for attempt in attempts]
    return f"Test page for {plain(name)}:\n\n" + "\n".join(lines)


def _site() -> str:
    return context.settings().status_page_url
