"""The `statuspage` queue and an hourly timer: re-render the public status site and publish it to `$web`
(shared.statuspage.queue_message, shared.statuspage.publisher)."""

from __future__ import annotations

import logging

import azure.functions as func

from functions import context
from functions.lazy import lazy
from functions.observed import consumed, observed
from shared.core.queues import CONNECTION, STATUSPAGE
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.changes import incident_of

publisher = lazy("shared.statuspage.publisher")
queue_message = lazy("shared.statuspage.queue_message")

bp = func.Blueprint()
log = logging.getLogger("firebell.statuspage")


@bp.function_name("statuspage")
@bp.queue_trigger(arg_name="message", queue_name=STATUSPAGE, connection=CONNECTION)
@consumed(STATUSPAGE)
def on_change(message: func.QueueMessage) -> None:
    body = message.get_body()
    written = queue_message.on_message(body, message.insertion_time, utc_now(), context.site_publisher())
    outcome = "published" if written else "not rendered"  # an earlier render covered it, or a later moment will
    log_event(log, "status page", incident=incident_of(body), function="statuspage", outcome=outcome, files=written)


@bp.function_name("statuspage_hourly")
@bp.timer_trigger(arg_name="timer", schedule="0 0 * * * *", run_on_startup=False)
@observed
def hourly(timer: func.TimerRequest) -> None:
    # Relative wording and the daily history age even when nothing changes; this also heals any missed publish.
    # It also looks further back for settled incidents than a change's render does (HEAL_LOOKBACK), then forgets
    # the settled rows no render will look for again, so they do not pile up with the history.
    site = context.site_publisher()
    site.refresh(lookback=publisher.HEAL_LOOKBACK)
    site.forget_settled()
