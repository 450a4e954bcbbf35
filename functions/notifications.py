"""The `notifications` queue: tell responders what changed, as Adaptive Cards, and start escalations
(shared.notifications.notify)."""

from __future__ import annotations

import azure.functions as func

from functions import context
from shared.core.queues import CONNECTION, NOTIFICATIONS
from shared.core.timeutil import utc_now
from shared.notifications import notify

bp = func.Blueprint()


@bp.function_name("notifications")
@bp.queue_trigger(arg_name="message", queue_name=NOTIFICATIONS, connection=CONNECTION)
def on_change(message: func.QueueMessage) -> None:
    notify.on_change(message.get_body(), message.id or "", message.dequeue_count or 1, utc_now(), context.notifier())
