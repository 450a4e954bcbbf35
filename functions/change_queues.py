"""The queue outputs of the HTTP functions that change incidents: one change message per change, to the queue
shared.incidents.changes chooses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import azure.functions as func

from shared.core.queues import CONNECTION, NOTIFICATIONS, STATUSPAGE
from shared.incidents.changes import change_message, first_queue

HTTP_OUTPUTS = (STATUSPAGE, NOTIFICATIONS)


def with_change_queues(bp: func.Blueprint) -> Callable[[Any], Any]:
    """Queue outputs named after the queues; the decorated function takes `statuspage` and `notifications`
    arguments (the names the Functions host binds)."""

    def decorate(function: Any) -> Any:
        for queue in HTTP_OUTPUTS:
            function = bp.queue_output(arg_name=queue, queue_name=queue, connection=CONNECTION)(function)
        return function

    return decorate


def announce(
    incident_id: str,
    event_ids: Sequence[str],
    statuspage: func.Out[str],
    notifications: func.Out[str],
    *,
    responders_act: bool | None = None,
    kinds: Sequence[str] | None = None,
) -> None:
    """One message, to notifications (and on from there) when responders act on the change, else to the status page
    alone. `responders_act` overrides what the kinds say: only an alert's intake knows whether its change matters."""
    if not event_ids:
        return
    outputs = {STATUSPAGE: statuspage, NOTIFICATIONS: notifications}
    outputs[first_queue(kinds, responders_act=responders_act)].set(change_message(incident_id, event_ids, kinds))
