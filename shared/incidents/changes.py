"""Change messages: the one message an incident change sends, how it is read, and which queues it goes to.

`{"incident": "INC-7", "event": <last event id>, "events": [<event ids, in order>], "kinds": [<their kinds>]}`.
Every message names the incident and the timeline events the change wrote, so each consumer acts on exactly those
events and stays idempotent when a message arrives twice.

An HTTP function writes ONE message per change, which keeps a new incident at six storage operations: a change
that only the public page may show (a further signal, a public update) goes to `statuspage`; a change responders act
on goes to `notifications`, which pages first and forwards the same message to `statuspage`, `workitems`,
`readiness`, `postmortems` and `channels`. A milestone correction goes the notifications way too, only so that it is
forwarded to `readiness` and `postmortems`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.core.errors import InvalidInput
from shared.core.queues import CHANNELS, NOTIFICATIONS, POSTMORTEMS, READINESS, STATUSPAGE, WORKITEMS
from shared.incidents.timeline import (
    ACKNOWLEDGED,
    ALERT_FIRED,
    CHANNEL_REQUESTED,
    FOLLOW_UP_ADDED,
    FOLLOW_UP_DONE,
    INCIDENT_DECLARED,
    MILESTONE_CORRECTED,
    PAGE_REQUESTED,
    ROLE_ASSIGNED,
    ROLE_HANDED_OFF,
    SEVERITY_CHANGED,
    STATUS_CHANGED,
)

if TYPE_CHECKING:  # the storage SDK loads with the first message forwarded, not with the triggers that decode one
    from shared.core.storage import StorageAccount

# The event kinds each consumer acts on; a change of other kinds (a public update, a note) only the page shows.
RESPONDER_KINDS = frozenset(
    {
        ALERT_FIRED,
        INCIDENT_DECLARED,
        ACKNOWLEDGED,
        ROLE_ASSIGNED,
        ROLE_HANDED_OFF,
        STATUS_CHANGED,
        PAGE_REQUESTED,
        CHANNEL_REQUESTED,  # no card: notifications passes it on to `channels`
    }
)
TRACKER_KINDS = frozenset({ALERT_FIRED, INCIDENT_DECLARED, SEVERITY_CHANGED, STATUS_CHANGED, FOLLOW_UP_ADDED})
# What an incident's Teams channel follows: opening (made), severity (made once severe enough), resolve and close.
CHANNEL_KINDS = frozenset({ALERT_FIRED, INCIDENT_DECLARED, SEVERITY_CHANGED, STATUS_CHANGED, CHANNEL_REQUESTED})
# What can change a resolved incident's readiness summary: resolving or reopening it, and what is said after.
MEASURED_KINDS = frozenset({STATUS_CHANGED, MILESTONE_CORRECTED, FOLLOW_UP_ADDED, FOLLOW_UP_DONE, SEVERITY_CHANGED})


@dataclass(frozen=True)
class ChangeMessage:
    incident: str
    events: tuple[str, ...]  # at least one; the last is the contract's `event`
    kinds: frozenset[str] | None = None  # None: the producer did not say (an older message), so every consumer looks

    @property
    def event(self) -> str:
        return self.events[-1]

    @classmethod
    def parse(cls, body: bytes | str) -> ChangeMessage:
        """The contract's message. The first release's messages named only `event`; `events` then is that one."""
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("a change message must be JSON") from None
        if not isinstance(document, dict) or not _ident(document.get("incident")):
            raise InvalidInput("a change message needs an 'incident' id")
        event, events = document.get("event"), document.get("events")
        if events is None:
            events = [event] if _ident(event) else []
        if not isinstance(events, list) or not all(_ident(item) for item in events):
            raise InvalidInput("a change message's 'events' must be a list of event ids")
        if _ident(event) and event not in events:
            events = [*events, event]
        if not events:
            raise InvalidInput("a change message names at least one event ('event' or 'events')")
        kinds = document.get("kinds")
        readable = isinstance(kinds, list) and all(isinstance(kind, str) for kind in kinds)
        return cls(document["incident"], tuple(events), frozenset(kinds) if readable else None)


def incident_of(body: bytes | str) -> str | None:
    """The incident a queue message (a change, or an escalation step) names, for logs; None when unreadable."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    ident = document.get("incident") if isinstance(document, dict) else None
    return ident if _ident(ident) else None


def _ident(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def change_message(incident_id: str, event_ids: Sequence[str], kinds: Sequence[str] | None = None) -> str:
    """The message; `kinds` (of the events, in order) lets a consumer pass over a change it has nothing to do for."""
    document: dict[str, Any] = {"incident": incident_id, "event": event_ids[-1], "events": list(event_ids)}
    if kinds is not None:
        document["kinds"] = list(kinds)
    return json.dumps(document)


def responders_act_on(kinds: Sequence[str] | frozenset[str] | None) -> bool:
    """Whether people (cards, pages) or Boards act on a change of these kinds; unknown kinds: they may."""
    return kinds is None or bool(set(kinds) & (RESPONDER_KINDS | TRACKER_KINDS))


def first_queue(kinds: Sequence[str] | None, *, responders_act: bool | None = None) -> str:
    """Where an HTTP change goes: notifications when responders act on it (it forwards from there), else the page."""
    act = responders_act_on(kinds) if responders_act is None else responders_act
    return NOTIFICATIONS if act or (responders_act is None and measured(kinds)) else STATUSPAGE


def measured(kinds: Sequence[str] | frozenset[str] | None) -> bool:
    """Whether a change of these kinds may change a readiness summary; unknown kinds: it may."""
    return kinds is None or bool(set(kinds) & MEASURED_KINDS)


def forward_queues(change: ChangeMessage) -> list[str]:
    """Where notifications passes a change on: the status page, work items unless its kinds say Boards has nothing
    to do, and readiness and postmortems (a review draft holds the same figures) unless they say none can change."""
    tracked = change.kinds is None or bool(change.kinds & TRACKER_KINDS)
    figures = [READINESS, POSTMORTEMS] if measured(change.kinds) else []
    channel = [CHANNELS] if change.kinds is None or change.kinds & CHANNEL_KINDS else []
    return [STATUSPAGE] + ([WORKITEMS] if tracked else []) + figures + channel


def forward(body: str, account: StorageAccount) -> list[str]:
    """Pass a change message on, as it came, to the queues after notifications; returns the queues it went to. Sent
    again when the notifications function is retried: both consumers are idempotent, and the page coalesces."""
    queues = forward_queues(ChangeMessage.parse(body))
    for queue in queues:
        account.queue(queue).send_message(body)
    return queues
