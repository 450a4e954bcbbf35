"""The `escalations` queue (the next step when nobody acknowledged), the reminders timer (overdue public updates,
escalation exhausted) and the sweeper (pages not under way): shared.notifications.escalate and .sweep."""

from __future__ import annotations

import logging
import secrets

import azure.functions as func

from functions import context
from functions.lazy import lazy
from functions.observed import consumed, observed
from shared.core.queues import CONNECTION, ESCALATIONS
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.changes import incident_of

escalate = lazy("shared.notifications.escalate")
sweep = lazy("shared.notifications.sweep")

bp = func.Blueprint()
log = logging.getLogger("firebell.escalations")


@bp.function_name("escalations")
@bp.queue_trigger(arg_name="message", queue_name=ESCALATIONS, connection=CONNECTION)
@consumed(ESCALATIONS)
def on_step(message: func.QueueMessage) -> None:
    body, delivery = message.get_body(), message.dequeue_count or 1
    deferred = escalate.on_step(body, message.id or "", delivery, utc_now(), context.notifier())
    outcome = "deferred" if deferred is not None else "handled"
    log_event(
        log, "escalation step", incident=incident_of(body), function="escalations", outcome=outcome, delivery=delivery
    )


_INSTANCE = secrets.token_hex(16)  # this process, as the holder of the reminders' and the sweeper's leases


@bp.function_name("reminders")
@bp.timer_trigger(arg_name="timer", schedule="0 * * * * *", run_on_startup=False)
@observed
def reminders(timer: func.TimerRequest) -> None:
    escalate.remind_once(utc_now(), context.notifier(), _INSTANCE)


@bp.function_name("sweeper")
@bp.timer_trigger(arg_name="timer", schedule="*/10 * * * * *", run_on_startup=False)
@observed
def sweeper(timer: func.TimerRequest) -> None:
    sweep.sweep(utc_now(), context.notifier(), _INSTANCE)
