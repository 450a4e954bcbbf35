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

from shared.adapters import storage

STATUSPAGE, NOTIFICATIONS, WORKITEMS = "statuspage", "notifications", "workitems"
HTTP_OUTPUTS = (STATUSPAGE, NOTIFICATIONS)
FORWARDED = (STATUSPAGE, WORKITEMS)  # what the notifications function passes every message on to


def change_message(incident_id: str, event_ids: Sequence[str]) -> str:
    return json.dumps({"incident": incident_id, "event": event_ids[-1], "events": list(event_ids)})


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
) -> None:
    """One message: to notifications (and on from there) when responders act on the change, else to the status
    page alone. The caller decides, since only it knows what the change was."""
    if event_ids:
        (notifications if responders_act else statuspage).set(change_message(incident_id, event_ids))


def forward(message: str) -> None:
    """Pass a change message on to the status page and work items. Sent again when the notifications function is
    retried: both consumers are idempotent, and the status page coalesces repeats."""
    account = storage.account()
    for queue in FORWARDED:
        account.queue(queue).send_message(message)
