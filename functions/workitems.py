"""The `workitems` queue: carry an incident's changes over to Azure Boards, exactly once (shared.workitems.sync)."""

from __future__ import annotations

import azure.functions as func

from functions import context
from shared.core import storage
from shared.core.queues import CONNECTION, WORKITEMS
from shared.core.timeutil import utc_now
from shared.workitems import sync

bp = func.Blueprint()


@bp.function_name("workitems")
@bp.queue_trigger(arg_name="message", queue_name=WORKITEMS, connection=CONNECTION)
def on_change(message: func.QueueMessage) -> None:
    sync.on_change(
        message.get_body(),
        message.id or "",
        message.dequeue_count or 1,
        utc_now(),
        store=context.incident_store(),
        settings=context.settings(),
        config=context.configuration(),
        account=storage.account(),
    )
