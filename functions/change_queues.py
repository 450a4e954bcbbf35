"""Announcing an incident change to the queues that act on it: status page, notifications and work items.

Every message names the incident and the timeline events the change wrote, so each consumer can act on exactly
those events and stay idempotent when a message arrives twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import azure.functions as func

STATUSPAGE, NOTIFICATIONS, WORKITEMS = "statuspage", "notifications", "workitems"
CHANGE_QUEUES = (STATUSPAGE, NOTIFICATIONS, WORKITEMS)


def change_message(incident_id: str, event_ids: Sequence[str]) -> str:
    return json.dumps({"incident": incident_id, "event": event_ids[-1], "events": list(event_ids)})


def with_change_queues(bp: func.Blueprint) -> Callable[[Any], Any]:
    """Queue outputs named after the queues; the decorated function takes `statuspage`, `notifications` and
    `workitems` arguments (the names the Functions host binds)."""

    def decorate(function: Any) -> Any:
        for queue in CHANGE_QUEUES:
            function = bp.queue_output(arg_name=queue, queue_name=queue, connection="AzureWebJobsStorage")(function)
        return function

    return decorate


def announce(
    incident_id: str,
    event_ids: Sequence[str],
    statuspage: func.Out[str],
    responders: Sequence[func.Out[str]] = (),
) -> None:
    """The status page hears of every change; `responders` (notifications, work items) only of those that matter
    to people and trackers — the caller decides, since only it knows what the change was."""
    if not event_ids:
        return
    message = change_message(incident_id, event_ids)
    for output in (statuspage, *responders):
        output.set(message)
