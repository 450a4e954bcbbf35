"""GET /api/health: is storage reachable and is the configuration valid?"""

from __future__ import annotations

import logging

import azure.functions as func
from azure.core.exceptions import AzureError

from functions import context
from functions.http_edge import json_response
from shared.adapters import storage
from shared.errors import ConfigurationError

bp = func.Blueprint()
log = logging.getLogger("firebell.health")


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    checks: dict[str, str] = {}
    try:
        next(iter(storage.account().table_service.list_tables(results_per_page=1)), None)
        checks["storage"] = "reachable"
    except AzureError as error:
        checks["storage"] = f"unreachable ({type(error).__name__})"
    try:
        context.catalog()
        checks["secure_webhook"] = "on" if context.secure_webhook() else "off"
        checks["configuration"] = "valid"
    except ConfigurationError as error:
        log.error("configuration invalid: %s", error.detail)  # details (paths) stay in the log, not on a public route
        checks["configuration"] = "invalid"
    healthy = checks["storage"] == "reachable" and checks["configuration"] == "valid"
    return json_response(200 if healthy else 503, {"status": "healthy" if healthy else "unhealthy", **checks})
