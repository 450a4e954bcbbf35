"""The `escalations` queue (the next step when nobody acknowledged), the reminders timer (overdue public updates,
escalation exhausted) and the sweeper (pages not under way): shared.notifications.escalate and .sweep."""

from __future__ import annotations

import uuid

import azure.functions as func

from functions import context
from shared.core.queues import CONNECTION, ESCALATIONS
from shared.core.timeutil import utc_now
from shared.notifications import escalate
from shared.notifications.sweep import sweep

bp = func.Blueprint()


@bp.function_name("escalations")
@bp.queue_trigger(arg_name="message", queue_name=ESCALATIONS, connection=CONNECTION)
def on_step(message: func.QueueMessage) -> None:
    escalate.on_step(message.get_body(), message.id or "", message.dequeue_count or 1, utc_now(), context.notifier())


@bp.function_name("reminders")
@bp.timer_trigger(arg_name="timer", schedule="0 * * * * *", run_on_startup=False)
def reminders(timer: func.TimerRequest) -> None:
    escalate.remind(utc_now(), context.notifier())


_INSTANCE = uuid.uuid4().hex  # this process, as the sweeper's lease holder


@bp.function_name("sweeper")
@bp.timer_trigger(arg_name="timer", schedule="*/10 * * * * *", run_on_startup=False)
def sweeper(timer: func.TimerRequest) -> None:
    sweep(utc_now(), context.notifier(), _INSTANCE)
