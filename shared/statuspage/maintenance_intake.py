"""Scheduled maintenance as the API and Teams declare it: validated, numbered and stored once per idempotency key,
cancelled ETag-guarded, and announced to the status page now and at the window's start and end (delayed messages).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.catalog.services import Catalog
from shared.core.contention import attempts
from shared.core.errors import DependencyUnavailable, InvalidInput, NotFound
from shared.core.queues import STATUSPAGE
from shared.core.storage import StorageAccount
from shared.core.timeutil import iso
from shared.statuspage.maintenance import (
    Maintenance,
    cancel,
    changes_ahead,
    maintenance_id,
    maintenance_number,
    parse_maintenance,
    schedule,
)
from shared.statuspage.maintenance_store import MaintenanceChanged, MaintenanceStore

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

MAX_IDEMPOTENCY_KEY = 200
DECLARED, CANCELLED = "declared", "cancelled"
# Queue messages can be hidden for at most 7 days. A window further ahead gets a message at the 7-day mark that
# enqueues itself again for the rest (queue_message.on_message); the hourly timer re-renders anyway, so even a lost
# message is at most an hour late.
MAX_DELAY = timedelta(days=7) - timedelta(minutes=1)
# A delayed message shown early by at most this much (clocks again) waits in the function; earlier, in the queue.
EARLY_TOLERANCE = timedelta(seconds=30)
_DELAY_MARGIN_SECONDS = 1  # shown just after the moment, never just before it


@dataclass(frozen=True)
class MaintenanceDeclared:
    maintenance: Maintenance
    created: bool  # False: the idempotency key was used before; this is what that request declared


def declare_maintenance(
    store: MaintenanceStore,
    catalog: Catalog,
    fields: Mapping[str, Any],
    now: datetime,
    idempotency_key: str | None = None,
) -> MaintenanceDeclared:
    """Validate `fields` (name, components, scheduled_for, scheduled_until, description?) and store the maintenance
    under the next MNT number. The same `idempotency_key` (an API header, a Teams message id) gives the same
    maintenance. InvalidInput, with nothing stored, when the fields are wrong."""
    plan = parse_maintenance(fields, catalog, now)
    if idempotency_key is not None and (not idempotency_key.strip() or len(idempotency_key) > MAX_IDEMPOTENCY_KEY):
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    scheduled = store.schedule(lambda number: schedule(plan, number, now), idempotency_key)
    return MaintenanceDeclared(scheduled.maintenance, scheduled.created)


def cancel_maintenance(store: MaintenanceStore, ident: str, now: datetime) -> Maintenance:
    """Cancel MNT-n (ETag-guarded; cancelling twice answers the first cancellation). NotFound, or InvalidInput for
    a malformed id or a window that already ended."""
    number = maintenance_number(ident)
    if number is None:
        raise InvalidInput(f"{ident[:40]!r} is not a maintenance id (expected MNT-<number>)")
    for _ in attempts():
        stored = store.load(maintenance_id(number))
        if stored is None:
            raise NotFound(f"there is no maintenance {maintenance_id(number)}")
        cancelled = cancel(stored.maintenance, now)
        if cancelled == stored.maintenance:
            return cancelled
        try:
            store.save(cancelled, stored.etag)
        except MaintenanceChanged:
            continue
        return cancelled
    raise DependencyUnavailable(f"{maintenance_id(number)} keeps changing under this request; retry")


def announce(account: StorageAccount, maintenance: Maintenance, now: datetime, reason: str) -> None:
    """Refresh the status page now, and at the window's start and end while they are ahead. Repeating it is
    harmless (refreshes coalesce), so a retried request announces again rather than risk never announcing."""
    enqueue_refreshes(account, maintenance, now, reason)


def maintenance_message(maintenance: Maintenance, reason: str, at: datetime | None = None) -> str:
    """What a maintenance change enqueues; `at` (a start or end) says the page must be rendered at or after it."""
    document: dict[str, Any] = {"maintenance": maintenance.id, "version": maintenance.version, "reason": reason}
    if at is not None:
        document["at"] = iso(at)
    return json.dumps(document)


def enqueue_refreshes(account: StorageAccount, maintenance: Maintenance, now: datetime, reason: str) -> list[timedelta]:
    """A refresh now, and one hidden until each start or end still ahead, so the page flips to 'in progress' and
    back on time. Returns the delays used. Safe to repeat: extra messages are coalesced."""
    queue = account.queue(STATUSPAGE)
    queue.send_message(maintenance_message(maintenance, reason))
    delays = [timedelta(0)]
    for what, moment in changes_ahead(maintenance, now):
        delays.append(send_at(queue, maintenance_message(maintenance, what, moment), moment, now))
    return delays


def send_at(queue: QueueClient, message: str, moment: datetime, now: datetime) -> timedelta:
    delay = min(timedelta(seconds=math.ceil((moment - now).total_seconds()) + _DELAY_MARGIN_SECONDS), MAX_DELAY)
    # time_to_live -1: a message hidden for days must not expire (the default lifetime is 7 days) before it shows.
    queue.send_message(message, visibility_timeout=int(delay.total_seconds()), time_to_live=-1)
    return delay
