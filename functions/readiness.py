"""The `readiness` queue: keep each resolved incident's summary row in step (shared.readiness.materialise)."""

from __future__ import annotations

import logging

import azure.functions as func

from functions import context
from functions.lazy import lazy
from shared.core.queues import CONNECTION, READINESS

materialise = lazy("shared.readiness.materialise")

bp = func.Blueprint()
log = logging.getLogger("firebell.readiness")


@bp.function_name("readiness")
@bp.queue_trigger(arg_name="message", queue_name=READINESS, connection=CONNECTION)
def on_change(message: func.QueueMessage) -> None:
    rosters = [roster.id for roster in context.schedule().rosters]
    outcome = materialise.on_change(
        message.get_body(),
        context.incident_store(),
        context.readiness_store(),
        context.catalog(),
        context.people(),
        rosters,
    )
    log.info("readiness: message %s %s", message.id, outcome)
