"""What a call to a paged person does: Call Automation posts the call's events to `POST /api/acs/calls` (CloudEvents,
the callback URL CreateCall named, with ACS_EVENTS_SECRET in it). When the call connects Firebell speaks the incident
and asks for one key; 1 acknowledges (the same `ack` as in Teams, "by keypress on a call"), 2 escalates now (the
escalation's next step runs at once rather than after its wait). Events of calls Firebell did not place change
nothing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.catalog.severity import label
from shared.chatops.authorization import Refuse
from shared.chatops.rules import Decision
from shared.contacts.inbound import acknowledge
from shared.contacts.ladder import short_number
from shared.contacts.ledger import ContactLedger
from shared.core.errors import InvalidInput
from shared.core.queues import ESCALATIONS
from shared.core.timeutil import parse_instant
from shared.incidents.timeline import CONTACT_DELIVERED, CONTACT_ESCALATED
from shared.notifications import policy as policy_rules
from shared.notifications.notifier import Notifier
from shared.notifications.policy import Position, StepMessage
from shared.oncall.people import Directory

log = logging.getLogger("firebell.contacts")

CONNECTED = "Microsoft.Communication.CallConnected"
RECOGNIZED = "Microsoft.Communication.RecognizeCompleted"
NOT_RECOGNIZED = "Microsoft.Communication.RecognizeFailed"  # no key in time, or the prompt could not be spoken
_PAGE = re.compile(r"^(?:(?P<series>[A-Za-z0-9-]{1,40})-)?r(?P<round>[0-9]{2})-s(?P<step>[0-9]{2})$")
MAX_EVENTS = 50
TEST_CALL = "test"  # shared.contacts.test_page's calls
TEST_PROMPT = "This is a Firebell test page. This is how a page reaches you by phone. Press any key to hang up."


@dataclass
class CallsHandled:
    decisions: list[Decision] = field(default_factory=list)
    asked: int = 0
    escalated: int = 0
    ignored: int = 0


def events(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list) or not 1 <= len(document) <= MAX_EVENTS:
        raise InvalidInput(f"expected a JSON array of 1–{MAX_EVENTS} Call Automation events")
    for event in document:
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise InvalidInput("every Call Automation event needs a type")
        if not isinstance(event.get("data"), dict) or not isinstance(event["data"].get("callConnectionId"), str):
            raise InvalidInput("every Call Automation event needs data.callConnectionId")
    return document


def on_call_events(
    batch: list[dict[str, Any]],
    now: datetime,
    notifier: Notifier,
    directory: Directory,
    placer: Any,
    refuse_for: Callable[[str], Refuse],
) -> CallsHandled:
    handled = CallsHandled()
    ledger = ContactLedger(notifier.account)
    for event in batch:
        data = event["data"]
        call_id = data["callConnectionId"]
        call = ledger.call(call_id)
        if call is None or event["type"] not in (CONNECTED, RECOGNIZED, NOT_RECOGNIZED):
            handled.ignored += 1  # not a call of ours, or an event Firebell does not act on
            continue
        if event["type"] == NOT_RECOGNIZED:
            placer.hang_up(call_id)  # nobody pressed a key: the person's next rule step and escalation go on
            handled.ignored += 1
            continue
        person = directory.named(call["person"])
        if call["incident"] == TEST_CALL:  # test-page: say so, then hang up after any key (or none)
            if event["type"] == CONNECTED and person.phone:
                placer.ask(call_id, person.phone, TEST_PROMPT, TEST_CALL)
                handled.asked += 1
            else:
                placer.hang_up(call_id)
            continue
        incident = notifier.store.get_incident(call["incident"])
        if incident is None or not person.phone:
            handled.ignored += 1
            continue
        at = _time(event, now)
        if event["type"] == CONNECTED:
            if policy_rules.stop_reason(incident) is not None:
                placer.hang_up(call_id)  # acknowledged while it rang: nothing to ask
                handled.ignored += 1
                continue
            placer.ask(call_id, person.phone, prompt(incident), f"{incident.id} ask")
            notifier.record(
                incident.id,
                CONTACT_DELIVERED,
                f"voice call to {person.name} answered {at:%H:%M:%S} UTC",
                now,
                f"call-{call_id[:60]}-answered",
                {"person": person.name, "channel": "voice", "call": call_id},
                named_at=at,
            )
            handled.asked += 1
            continue
        tones = ((data.get("dtmfResult") or {}).get("tones")) or []
        first = tones[0] if tones and isinstance(tones[0], str) else ""
        if first.lower() in ("one", "1"):
            refuse = refuse_for(person.name)
            handled.decisions.append(
                acknowledge(
                    incident.id,
                    person.name,
                    "voice",
                    call_id[:80],
                    now,
                    notifier.store,
                    _catalog(notifier),
                    refuse,
                    sent_at=at,
                )
            )
        elif first.lower() in ("two", "2"):
            if escalate_now(notifier, incident, call["page"], person.name, call_id, at, now):
                handled.escalated += 1
        else:
            handled.ignored += 1
        placer.hang_up(call_id)
    return handled


def prompt(incident: Any) -> str:
    number = short_number(incident.id) or incident.id
    drill = "This is a drill, an exercise. " if incident.drill else ""
    return (
        f"This is Firebell. {drill}{label(incident.severity)} incident {number}: {incident.title}. "
        "Press 1 to acknowledge. Press 2 to escalate to the next person."
    )


def escalate_now(
    notifier: Notifier, incident: Any, page: str, person: str, call_id: str, at: datetime, now: datetime
) -> bool:
    """Run the escalation's next step now: a step message visible at once (the escalation ledger makes the one
    already waiting for its delay a no-op). False when the page was the last step, or is not readable."""
    matched = _PAGE.match(page)
    if matched is None:
        return False
    position = Position(int(matched["round"]), int(matched["step"]), matched["series"] or "")
    policy = notifier.config.escalations().policy_for(incident.service, incident.severity)
    following = policy_rules.next_position(policy, position)
    notifier.record(
        incident.id,
        CONTACT_ESCALATED,
        f"{person} asked to escalate by keypress on a call"
        + ("" if following else " (it was the last step: the escalation channel is alerted when it runs out)"),
        now,
        f"call-{call_id[:60]}-escalate",
        {"by": person, "via": "voice"},
        named_at=at,
    )
    if following is None:
        return False
    step = StepMessage(incident.id, policy.id, following, now)
    notifier.account.queue(ESCALATIONS).send_message(json.dumps(step.to_json()))
    return True


def _catalog(notifier: Notifier) -> Any:
    return notifier.config.catalog()


def _time(event: dict[str, Any], now: datetime) -> datetime:
    value = event.get("time")
    try:
        return parse_instant(value) if isinstance(value, str) else now
    except ValueError:
        return now
