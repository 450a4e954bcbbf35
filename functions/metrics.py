"""GET /api/metrics: readiness figures of the incidents declared in a window, aggregated from their summaries
(shared.readiness.query)."""

from __future__ import annotations

import azure.functions as func

from functions import context
from functions.http_edge import http_endpoint, json_response
from functions.lazy import lazy
from shared.core.timeutil import utc_now

query = lazy("shared.readiness.query")
window = lazy("shared.readiness.window")

bp = func.Blueprint()


@bp.function_name("metrics")
@bp.route(route="metrics", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def metrics(req: func.HttpRequest) -> func.HttpResponse:
    now = utc_now()
    asked = window.parse_window(dict(req.params), context.catalog(), now)
    overrides = context.override_store().overlapping
    document = query.metrics(asked, context.readiness_store(), context.schedule(), overrides, now)
    return json_response(200, document)
