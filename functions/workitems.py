"""The `workitems` queue: carry an incident's changes over to Azure Boards, exactly once (shared.workitems.sync)."""

from __future__ import annotations

import logging

import azure.functions as func

from functions import context
from functions.lazy import lazy
from functions.observed import consumed
from shared.core import storage
from shared.core.queues import CONNECTION, WORKITEMS
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.changes import incident_of

sync = lazy("shared.workitems.sync")

bp = func.Blueprint()
log = logging.getLogger("firebell.workitems")


@bp.function_name("workitems")
@bp.queue_trigger(arg_name="message", queue_name=WORKITEMS, connection=CONNECTION)
@consumed(WORKITEMS)
def on_change(message: func.QueueMessage) -> None:
    body, delivery = message.get_body(), message.dequeue_count or 1
    deferred = sync.on_change(
        body,
        message.id or "",
        delivery,
        utc_now(),
        store=context.incident_store(),
        settings=context.settings(),
        config=context.configuration(),
        account=storage.account(),
    )
    outcome = "deferred" if deferred is not None else "handled"
    log_event(
        log, "change tracked", incident=incident_of(body), function="workitems", outcome=outcome, delivery=delivery
    )
