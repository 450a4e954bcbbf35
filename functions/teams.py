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
from functions.lazy import lazy
from shared.core import storage
from shared.core.errors import NotFound
from shared.core.json_body import decode_json_object, require_bounded
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.timeline import CHAT_MESSAGE, NOTE
from shared.teams.signature import TOKEN_SETTING, verify_signature

activity = lazy("shared.teams.activity")
authorization = lazy("shared.chatops.authorization")
channel_context = lazy("shared.chatops.channel_context")
channels_ledger = lazy("shared.channels.ledger")
desk = lazy("shared.chatops.desk")
freshness = lazy("shared.teams.freshness")
grammar = lazy("shared.chatops.grammar")
intake = lazy("shared.chatops.intake")
paging_test = lazy("shared.contacts.test_page")
reply = lazy("shared.teams.reply")
rules = lazy("shared.chatops.rules")

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
    message = activity.parse_activity(decode_json_object(body))
    now = utc_now()
    stale = freshness.refusal(message.sent_at, now)
    if stale is not None:  # a replayed or long-delayed message: its signature is still good, its moment is gone
        log_event(log, "teams command", function="teams", outcome="stale")
        return json_response(200, reply.text_reply(stale))
    speaker = message.speaker
    person, listed = context.people().sender(speaker.name, speaker.teams_id, speaker.aad_object_id)
    # The signed body identifies the message, and Teams' timestamp (fresh, checked above) names its events: a
    # redelivery of the same bytes is recorded once.
    text = _in_its_channel(message.text, message.conversation_id)
    said = rules.Said(text, person.name, now, hashlib.sha256(body).hexdigest()[:20], message.sent_at)
    command = intake.with_known_person(grammar.parse_command(text), message, context.people())
    config = context.configuration()
    sender = authorization.Sender(person.name, listed)
    refuse = authorization.gate(config.authorization(), sender, config.catalog(), config.schedule())
    if isinstance(command, grammar.SendTestPage):  # reaches people's phones: shared.contacts, above chatops
        refused = refuse(command, None)
        answer = refused[:1].upper() + refused[1:] if refused else _test_page(command.person)
        decision = rules.Decision(reply.text_reply(answer))
    elif isinstance(command, desk.DESK_COMMANDS):
        refused = refuse(command, None)
        decision = (
            rules.Decision(reply.text_reply(refused[:1].upper() + refused[1:]))
            if refused
            else desk.answer(command, said, config, context.maintenance_store(), storage.account())
        )
    else:
        decision = intake.handle(
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
    parsed = grammar.parse_command(text)
    if (
        not isinstance(parsed, grammar.Invalid)
        or parsed.incident_id is not None
        or parsed.command not in channel_context.TAKES_ID
    ):
        return text
    channel = channel_context.channel_of(conversation_id)
    if channel is None or not context.settings().graph_team_id:
        return text
    ledger = channels_ledger.ChannelLedger(storage.account().table(channels_ledger.CHANNELS_TABLE))
    incident = ledger.incident_of(channel)
    placed = channel_context.with_channel_incident(text, incident) if incident else None
    return placed or text


def _test_page(person: str) -> str:
    try:
        name, attempts = paging_test.test_page(person, utc_now(), context.notifier())
    except NotFound as missing:
        return f"{reply.plain(missing.detail)}: nothing was sent."
    lines = [f"- {attempt.channel}: {attempt.outcome} ({reply.plain(attempt.detail)})" for attempt in attempts]
    return f"Test page for {reply.plain(name)}:\n\n" + "\n".join(lines)


def _site() -> str:
    return context.settings().status_page_url
