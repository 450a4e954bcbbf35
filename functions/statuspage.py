"""The `statuspage` queue: re-render the public status site and publish it to `$web`."""

from __future__ import annotations

import json
import logging

import azure.functions as func

from functions import context
from shared.adapters import storage
from shared.adapters.site_publisher import publish
from shared.public_view import status_page
from shared.status_site import render_site

bp = func.Blueprint()
log = logging.getLogger("firebell.statuspage")


def refresh_message(incident_id: str, event_id: str) -> str:
    """What every change enqueues: the incident and the event that caused it, so consumers can be idempotent."""
    return json.dumps({"incident": incident_id, "event": event_id})


def refresh_status_page() -> int:
    """Render the whole site from the store and publish it; returns the number of files written."""
    settings = context.settings()
    page = status_page(settings.status_page_title, context.catalog(), context.incident_store().list_incidents())
    files = render_site(page)
    publish(storage.account(), files)
    return len(files)


@bp.function_name("statuspage")
@bp.queue_trigger(arg_name="message", queue_name="statuspage", connection="AzureWebJobsStorage")
def on_change(message: func.QueueMessage) -> None:
    # The site is rendered whole from the store, so the message only says why; an unreadable one still refreshes.
    try:
        cause = json.loads(message.get_body())
    except (ValueError, UnicodeDecodeError):
        cause = {"unreadable": True}
    written = refresh_status_page()
    log.info("status page published (%d files) after %s", written, cause)


@bp.function_name("statuspage_hourly")
@bp.timer_trigger(arg_name="timer", schedule="0 0 * * * *", run_on_startup=False)
def hourly(timer: func.TimerRequest) -> None:
    # Times such as "started 3 hours ago" and the daily history age even when nothing changes.
    refresh_status_page()
