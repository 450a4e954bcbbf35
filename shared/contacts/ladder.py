"""The ladder of one person's page: which of their rule steps go out when, the `contacts` queue message that carries
one step, and the words of an SMS. Pure.

After an escalation step pages a person (its Teams card is their `teams` rule step), each SMS, voice or Teams
activity step of their rules becomes a `contacts` message visible at its due time. It checks "acknowledged yet?"
before sending; a step whose channel failed for good sends the person's next step at once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.core.errors import InvalidInput
from shared.core.timeutil import iso, parse_instant
from shared.incidents.incident import Incident
from shared.oncall.contact_rules import PERSONAL_CHANNELS, ContactStep, due_at, urgency
from shared.oncall.people import Person

_PAGE = re.compile(r"^[A-Za-z0-9-]{1,60}$")
MAX_SMS = 306  # two concatenated GSM-7 segments (153 characters each)
MIN_TITLE = 24
ACK_REPLY = re.compile(r"^\s*ack\s*(?:inc-?)?\s*([0-9]{1,9})\s*[.!]?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ContactMessage:
    """One rule step of one person's page: `page` is the escalation step that paged them (its ledger key), `index`
    the rule step (0-based) of the `urgency` ladder; `due` names its timeline events."""

    incident: str
    person: str
    page: str
    urgency: str
    index: int
    channel: str
    due: datetime

    def key(self) -> str:
        """Its ledger key: one send per (incident, page, person, rule step, channel)."""
        return f"{self.page}-{_slug(self.person)}-{self.index:02d}-{self.channel}"

    def to_json(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "person": self.person,
            "page": self.page,
            "urgency": self.urgency,
            "index": self.index,
            "channel": self.channel,
            "due": iso(self.due),
        }

    @classmethod
    def from_json(cls, document: Any) -> ContactMessage:
        if not isinstance(document, dict):
            raise InvalidInput("a contacts message must be a JSON object")
        text = {key: document.get(key) for key in ("incident", "person", "page", "urgency", "channel", "due")}
        if not all(isinstance(value, str) and value for value in text.values()):
            raise InvalidInput("a contacts message needs incident, person, page, urgency, channel and due")
        index = document.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 100:
            raise InvalidInput("a contacts message needs 'index' 0–99")
        # Only personal steps are queued: the `teams` step is the escalation's card, posted already.
        if text["channel"] not in PERSONAL_CHANNELS or not _PAGE.match(text["page"]):
            raise InvalidInput(
                "a contacts message names a channel that is no personal rule step (sms, voice, teams_activity) or a "
                "malformed page"
            )
        try:
            due = parse_instant(text["due"])
        except ValueError:
            raise InvalidInput("a contacts message needs 'due' (an ISO 8601 instant)") from None
        return cls(text["incident"], text["person"], text["page"], text["urgency"], index, text["channel"], due)


def ladder(incident: Incident, person: Person, page: str, paged_at: datetime) -> list[ContactMessage]:
    """The person's SMS, voice and Teams activity steps for this incident's urgency, each with its due time (`teams`
    steps are the escalation's card, already posted)."""
    level = urgency(incident.severity)
    steps = person.rules.steps_for(level)
    return [
        _message(incident.id, person, page, level, index, step, paged_at)
        for index, step in enumerate(steps)
        if step.channel in PERSONAL_CHANNELS
    ]


def rules_changed(message: ContactMessage, person: Person) -> str | None:
    """Why a queued step no longer belongs to the person's rules in force (changed since the page: its number now
    holds another channel, or the rules are shorter), else None. Such a step is dropped, not sent: its number would
    otherwise pick the next step from rules it was never part of."""
    steps = person.rules.steps_for(message.urgency)
    if message.index >= len(steps):
        return f"{person.name}'s rules changed since the page: they now have {len(steps)} {message.urgency} steps"
    if steps[message.index].channel != message.channel:
        now_holds = steps[message.index].channel
        return f"{person.name}'s rules changed since the page: rule step {message.index + 1} is now {now_holds}"
    return None


def next_step(message: ContactMessage, person: Person, now: datetime) -> ContactMessage | None:
    """The person's next personal step after `message`, due now (its channel failed: no waiting). `message` is a
    step of these rules (run drops one that is not), so the numbering is theirs."""
    steps = person.rules.steps_for(message.urgency)
    for index in range(message.index + 1, len(steps)):
        if steps[index].channel in PERSONAL_CHANNELS:
            return ContactMessage(
                message.incident, message.person, message.page, message.urgency, index, steps[index].channel, now
            )
    return None


def _message(
    incident: str, person: Person, page: str, level: str, index: int, step: ContactStep, paged_at: datetime
) -> ContactMessage:
    due = due_at(step, paged_at, level, person.rules, person.time_zone)
    return ContactMessage(incident, person.name, page, level, index, step.channel, due)


def short_number(incident_id: str) -> str | None:
    """ "INC-7" → "7": what a person replies (`ACK 7`)."""
    matched = re.fullmatch(r"INC-([0-9]{1,9})", incident_id)
    return matched[1] if matched else None


def acked_incident(text: str) -> str | None:
    """The incident an SMS reply acknowledges ("ACK 7", "ack inc-7") or None."""
    matched = ACK_REPLY.match(text or "")
    return f"INC-{int(matched[1])}" if matched else None


def sms_text(incident: Incident | None, severity_label: str, link: str | None, *, test: bool = False) -> str:
    """What, how bad, and how to acknowledge, in two GSM-7 segments at most: the title is shortened to fit, the
    link never (a cut link acknowledges nothing)."""
    if test:
        return "Firebell test page: this number reaches you when you are paged. No action needed."
    assert incident is not None
    number = short_number(incident.id)
    drill = "DRILL " if incident.drill else ""  # an exercise must never read as a real page at 03:00
    head = f"Firebell {drill}{severity_label} {incident.id}: "
    tail = ([f"Reply ACK {number} to acknowledge"] if number else []) + ([f"or open {link}"] if link else [])
    room = max(MIN_TITLE, MAX_SMS - len(head) - sum(len(line) + 1 for line in tail))
    title = incident.title if len(incident.title) <= room else incident.title[: room - 3] + "..."
    return "\n".join([head + title, *tail])


def _slug(name: str) -> str:
    return hashlib.sha256(name.casefold().encode()).hexdigest()[:12]
