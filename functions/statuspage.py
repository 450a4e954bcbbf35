"""The `statuspage` queue: re-render the public status site and publish it to `$web`."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta

import azure.functions as func

from functions import context
from shared.adapters import storage
from shared.adapters.site_publisher import publish
from shared.public_view import status_page
from shared.status_site import render_site
from shared.timeutil import utc_now

bp = func.Blueprint()
log = logging.getLogger("firebell.statuspage")


def refresh_message(incident_id: str, event_id: str) -> str:
    """What every change enqueues: the incident and the event that caused it, so consumers can be idempotent."""
    return json.dumps({"incident": incident_id, "event": event_id})


class SitePublisher:
    """Publishes the site from this instance, coalescing bursts of change messages.

    Renders are serialised; a message inserted before the last completed render started is already shown by it, so
    a burst of changes costs a few renders, not one each. Only incident pages that changed since this instance last
    published them are rendered again (all of them on the instance's first render).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._published: dict[str, datetime] = {}  # incident id → updated_at last published by this instance
        self._last_started: datetime | None = None

    def covers(self, inserted_at: datetime | None) -> bool:
        # Queue insertion times have one-second resolution: only a render that started a full second later is sure
        # to have read the change.
        started = self._last_started
        return inserted_at is not None and started is not None and started >= inserted_at + timedelta(seconds=1)

    def refresh(self, inserted_at: datetime | None = None) -> int:
        """Render and publish what changed; returns the number of files written (0 when already covered)."""
        with self._lock:
            if self.covers(inserted_at):
                return 0
            started = utc_now()
            store = context.incident_store()
            incidents = store.list_incidents()
            changed = [i.id for i in incidents if self._published.get(i.id) != i.updated_at]
            # The public update history lives on the timelines: read only those of the pages rendered now (the index
            # shows each incident's latest update, which the incident row keeps).
            rendered = changed if self._published else [i.id for i in incidents]
            timelines = {ident: store.timeline(ident) for ident in rendered}
            page = status_page(context.settings().status_page_title, context.catalog(), incidents, timelines)
            files = render_site(page, changed if self._published else None)
            publish(storage.account(), files)
            self._published = {incident.id: incident.updated_at for incident in incidents}
            self._last_started = started
            return len(files)


publisher = SitePublisher()


@bp.function_name("statuspage")
@bp.queue_trigger(arg_name="message", queue_name="statuspage", connection="AzureWebJobsStorage")
def on_change(message: func.QueueMessage) -> None:
    # The site is rendered from the store, so the message only says why; an unreadable one still refreshes.
    written = publisher.refresh(message.insertion_time)
    log.info("status page: %d files published after %s", written, message.get_body()[:200])


@bp.function_name("statuspage_hourly")
@bp.timer_trigger(arg_name="timer", schedule="0 0 * * * *", run_on_startup=False)
def hourly(timer: func.TimerRequest) -> None:
    # Relative wording and the daily history age even when nothing changes; this also heals any missed publish.
    publisher.refresh()
