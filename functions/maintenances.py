"""Scheduled maintenances: POST /api/maintenances declares one, GET lists them, DELETE (or POST …/cancel) cancels.

Every change refreshes the status page now and at the window's start and end (delayed queue messages). The Teams
`maintenance` command uses the same core: `declare_maintenance` / `cancel_maintenance`, then `announce`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import azure.functions as func

from functions import context
from functions.http_edge import http_endpoint, json_response
from functions.statuspage import enqueue_maintenance_refreshes
from shared.catalog.services import Catalog
from shared.core import storage
from shared.core.contention import attempts
from shared.core.errors import DependencyUnavailable, InvalidInput, NotFound
from shared.core.json_body import decode_json_object
from shared.core.timeutil import iso, utc_now
from shared.statuspage.maintenance import (
    Maintenance,
    cancel,
    maintenance_id,
    maintenance_number,
    parse_maintenance,
    schedule,
)
from shared.statuspage.maintenance_store import MaintenanceChanged, MaintenanceStore

bp = func.Blueprint()
log = logging.getLogger("firebell.maintenances")

MAX_IDEMPOTENCY_KEY = 200
DECLARED, CANCELLED = "declared", "cancelled"


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


def announce(maintenance: Maintenance, now: datetime, reason: str) -> None:
    """Refresh the status page now, and at the window's start and end while they are ahead. Repeating it is
    harmless (refreshes coalesce), so a retried request announces again rather than risk never announcing."""
    enqueue_maintenance_refreshes(maintenance, now, reason)


@functools.cache
def _maintenance_store_for(account: storage.StorageAccount) -> MaintenanceStore:
    return MaintenanceStore(account)


def maintenance_store() -> MaintenanceStore:
    """One per process, like the incident store: its numbering lock and cached counter serve every request."""
    return _maintenance_store_for(storage.account())


def maintenance_document(maintenance: Maintenance, now: datetime) -> dict[str, Any]:
    return {
        "id": maintenance.id,
        "name": maintenance.name,
        "status": maintenance.status(now),
        "components": list(maintenance.components),
        "scheduled_for": iso(maintenance.scheduled_for),
        "scheduled_until": iso(maintenance.scheduled_until),
        "description": maintenance.description,
        "created_at": iso(maintenance.created_at),
        "updated_at": iso(maintenance.updated_at),
        "cancelled_at": iso(maintenance.cancelled_at) if maintenance.cancelled_at else None,
        "version": maintenance.version,
    }


@bp.function_name("declare_maintenance")
@bp.route(route="maintenances", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def post_maintenance(req: func.HttpRequest) -> func.HttpResponse:
    now = utc_now()
    fields = decode_json_object(req.get_body())
    declared = declare_maintenance(
        maintenance_store(), context.catalog(), fields, now, req.headers.get("Idempotency-Key")
    )
    announce(declared.maintenance, now, DECLARED)
    if declared.created:
        log.info("%s declared: %s", declared.maintenance.id, iso(declared.maintenance.scheduled_for))
    return json_response(201 if declared.created else 200, maintenance_document(declared.maintenance, now))


@bp.function_name("list_maintenances")
@bp.route(route="maintenances", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def get_maintenances(req: func.HttpRequest) -> func.HttpResponse:
    now = utc_now()
    maintenances = maintenance_store().list_maintenances()
    return json_response(200, {"maintenances": [maintenance_document(m, now) for m in maintenances]})


@bp.function_name("get_maintenance")
@bp.route(route="maintenances/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def get_maintenance(req: func.HttpRequest) -> func.HttpResponse:
    text = req.route_params.get("id", "")
    number = maintenance_number(text)
    if number is None:
        raise InvalidInput(f"{text[:40]!r} is not a maintenance id (expected MNT-<number>)")
    maintenance = maintenance_store().get(maintenance_id(number))
    if maintenance is None:
        raise NotFound(f"there is no maintenance {maintenance_id(number)}")
    return json_response(200, maintenance_document(maintenance, utc_now()))


@bp.function_name("cancel_maintenance")
@bp.route(route="maintenances/{id}", methods=["DELETE"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def delete_maintenance(req: func.HttpRequest) -> func.HttpResponse:
    return _cancelled(req.route_params.get("id", ""))


@bp.function_name("cancel_maintenance_post")
@bp.route(route="maintenances/{id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def post_cancel(req: func.HttpRequest) -> func.HttpResponse:
    # For callers that cannot send DELETE (some webhooks and form posts).
    return _cancelled(req.route_params.get("id", ""))


def _cancelled(ident: str) -> func.HttpResponse:
    now = utc_now()
    maintenance = cancel_maintenance(maintenance_store(), ident, now)
    announce(maintenance, now, CANCELLED)
    return json_response(200, maintenance_document(maintenance, now))
