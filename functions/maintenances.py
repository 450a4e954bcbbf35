"""Scheduled maintenances: POST /api/maintenances declares one, GET lists them, DELETE (or POST …/cancel) cancels.

Every change refreshes the status page now and at the window's start and end (delayed queue messages). The Teams
`maintenance` command uses the same flow (shared.statuspage.maintenance_intake).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions import context
from functions.http_edge import http_endpoint, json_response
from functions.lazy import lazy
from shared.core import storage
from shared.core.errors import InvalidInput, NotFound
from shared.core.json_body import decode_json_object
from shared.core.timeutil import iso, utc_now

if TYPE_CHECKING:
    from shared.statuspage.maintenance import Maintenance

maintenance = lazy("shared.statuspage.maintenance")
maintenance_intake = lazy("shared.statuspage.maintenance_intake")

bp = func.Blueprint()
log = logging.getLogger("firebell.maintenances")


def maintenance_document(window: Maintenance, now: datetime) -> dict[str, Any]:
    return {
        "id": window.id,
        "name": window.name,
        "status": window.status(now),
        "components": list(window.components),
        "scheduled_for": iso(window.scheduled_for),
        "scheduled_until": iso(window.scheduled_until),
        "description": window.description,
        "created_at": iso(window.created_at),
        "updated_at": iso(window.updated_at),
        "cancelled_at": iso(window.cancelled_at) if window.cancelled_at else None,
        "version": window.version,
    }


@bp.function_name("declare_maintenance")
@bp.route(route="maintenances", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def post_maintenance(req: func.HttpRequest) -> func.HttpResponse:
    now = utc_now()
    fields = decode_json_object(req.get_body())
    declared = maintenance_intake.declare_maintenance(
        context.maintenance_store(), context.catalog(), fields, now, req.headers.get("Idempotency-Key")
    )
    maintenance_intake.announce(storage.account(), declared.maintenance, now, maintenance_intake.DECLARED)
    if declared.created:
        log.info("%s declared: %s", declared.maintenance.id, iso(declared.maintenance.scheduled_for))
    return json_response(201 if declared.created else 200, maintenance_document(declared.maintenance, now))


@bp.function_name("list_maintenances")
@bp.route(route="maintenances", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def get_maintenances(req: func.HttpRequest) -> func.HttpResponse:
    now = utc_now()
    maintenances = context.maintenance_store().list_maintenances()
    return json_response(200, {"maintenances": [maintenance_document(m, now) for m in maintenances]})


@bp.function_name("get_maintenance")
@bp.route(route="maintenances/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def get_maintenance(req: func.HttpRequest) -> func.HttpResponse:
    text = req.route_params.get("id", "")
    number = maintenance.maintenance_number(text)
    if number is None:
        raise InvalidInput(f"{text[:40]!r} is not a maintenance id (expected MNT-<number>)")
    found = context.maintenance_store().get(maintenance.maintenance_id(number))
    if found is None:
        raise NotFound(f"there is no maintenance {maintenance.maintenance_id(number)}")
    return json_response(200, maintenance_document(found, utc_now()))


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
    cancelled = maintenance_intake.cancel_maintenance(context.maintenance_store(), ident, now)
    maintenance_intake.announce(storage.account(), cancelled, now, maintenance_intake.CANCELLED)
    return json_response(200, maintenance_document(cancelled, now))
