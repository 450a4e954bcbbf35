"""The `statuspage` queue and an hourly timer: re-render the public status site and publish it to `$web`
(shared.statuspage.publisher)."""

from __future__ import annotations

import logging

import azure.functions as func

from functions import context
from shared.core.queues import CONNECTION, STATUSPAGE
from shared.core.timeutil import utc_now
from shared.statuspage.publisher import on_message

bp = func.Blueprint()
log = logging.getLogger("firebell.statuspage")


@bp.function_name("statuspage")
@bp.queue_trigger(arg_name="message", queue_name=STATUSPAGE, connection=CONNECTION)
def on_change(message: func.QueueMessage) -> None:
    written = on_message(message.get_body(), message.insertion_time, utc_now(), context.site_publisher())
    log.info("status page: %d files published (message %s)", written, message.id)


@bp.function_name("statuspage_hourly")
@bp.timer_trigger(arg_name="timer", schedule="0 0 * * * *", run_on_startup=False)
def hourly(timer: func.TimerRequest) -> None:
    # Relative wording and the daily history age even when nothing changes; this also heals any missed publish.
    context.site_publisher().refresh()
