"""Announcing an incident change to the queues that act on it: status page, notifications and work items.

Every message names the incident and the timeline events the change wrote, so each consumer can act on exactly
those events and stay idempotent when a message arrives twice.

An HTTP function writes ONE message per change, which keeps a new incident at six storage operations: a change
that only the public page may show (a further signal) goes to `statuspage`; a change responders act on goes to
`notifications`, which pages first and forwards the same message to `statuspage` and `workitems` (`forward`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import azure.functions as func

from shared.core import storage
from shared.incidents.timeline import (
    ACKNOWLEDGED,
    ALERT_FIRED,
    FOLLOW_UP_ADDED,
    INCIDENT_DECLARED,
    PAGE_REQUESTED,
    ROLE_ASSIGNED,
    ROLE_HANDED_OFF,
    SEVERITY_CHANGED,
    STATUS_CHANGED,
)

STATUSPAGE, NOTIFICATIONS, WORKITEMS = "statuspage", "notifications", "workitems"
HTTP_OUTPUTS = (STATUSPAGE, NOTIFICATIONS)
# The event kinds each consumer acts on; a change of other kinds (a public update, a note) only the page shows.
RESPONDER_KINDS = {ALERT_FIRED, INCIDENT_DECLARED, ACKNOWLEDGED, ROLE_ASSIGNED, ROLE_HANDED_OFF, STATUS_CHANGED}
RESPONDER_KINDS |= {PAGE_REQUESTED}
TRACKER_KINDS = {ALERT_FIRED, INCIDENT_DECLARED, SEVERITY_CHANGED, STATUS_CHANGED, FOLLOW_UP_ADDED}


def change_message(incident_id: str, event_ids: Sequence[str], kinds: Sequence[str] | None = None) -> str:
    """The message; `kinds` (of the events, in order) lets a consumer pass over a change it has nothing to do for."""
    document: dict[str, Any] = {"incident": incident_id, "event": event_ids[-1], "events": list(event_ids)}
    if kinds is not None:
        document["kinds"] = list(kinds)
    return json.dumps(document)


def responders_act_on(kinds: Sequence[str]) -> bool:
    """Whether people (cards, pages) or Boards act on a change of these kinds."""
    return bool(set(kinds) & (RESPONDER_KINDS | TRACKER_KINDS))


def with_change_queues(bp: func.Blueprint) -> Callable[[Any], Any]:
    """Queue outputs named after the queues; the decorated function takes `statuspage` and `notifications`
    arguments (the names the Functions host binds)."""

    def decorate(function: Any) -> Any:
        for queue in HTTP_OUTPUTS:
            function = bp.queue_output(arg_name=queue, queue_name=queue, connection="AzureWebJobsStorage")(function)
        return function

    return decorate


def announce(
    incident_id: str,
    event_ids: Sequence[str],
    statuspage: func.Out[str],
    notifications: func.Out[str],
    *,
    responders_act: bool,
    kinds: Sequence[str] | None = None,
) -> None:
    """One message: to notifications (and on from there) when responders act on the change, else to the status
    page alone. The caller decides, since only it knows what the change was."""
    if event_ids:
        (notifications if responders_act else statuspage).set(change_message(incident_id, event_ids, kinds))


def message_kinds(message: str) -> set[str] | None:
    """The kinds a change message names; None when it does not say (an alert's change), so every consumer looks."""
    kinds = json.loads(message).get("kinds")
    if not isinstance(kinds, list) or not all(isinstance(kind, str) for kind in kinds):
        return None
    return set(kinds)


def forward(message: str) -> list[str]:
    """Pass a change message on to the status page, and to work items unless its kinds say Boards has nothing to
    do; returns the queues it went to. Sent again when the notifications function is retried: both consumers are
    idempotent, and the status page coalesces repeats."""
    kinds = message_kinds(message)
    queues = [STATUSPAGE] + ([WORKITEMS] if kinds is None or kinds & TRACKER_KINDS else [])
    account = storage.account()
    for queue in queues:
        account.queue(queue).send_message(message)
    return queues
