"""The `notifications` queue: tell responders what changed, as Adaptive Cards, and start escalations
(shared.notifications.notify)."""

from __future__ import annotations

import logging

import azure.functions as func

from functions import context
from functions.lazy import lazy
from functions.observed import consumed
from shared.core.queues import CONNECTION, NOTIFICATIONS
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.changes import incident_of

notify = lazy("shared.notifications.notify")

bp = func.Blueprint()
log = logging.getLogger("firebell.notifications")


@bp.function_name("notifications")
@bp.queue_trigger(arg_name="message", queue_name=NOTIFICATIONS, connection=CONNECTION)
@consumed(NOTIFICATIONS)
def on_change(message: func.QueueMessage) -> None:
    body, delivery = message.get_body(), message.dequeue_count or 1
    deferred = notify.on_change(body, message.id or "", delivery, utc_now(), context.notifier())
    outcome = "deferred" if deferred is not None else "handled"
    log_event(
        log, "change told", incident=incident_of(body), function="notifications", outcome=outcome, delivery=delivery
    )
