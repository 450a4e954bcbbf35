"""GET /api/metrics: readiness figures of the incidents declared in a window, aggregated from their summary rows
(shared.readiness)."""

from __future__ import annotations

import azure.functions as func

from functions import context
from functions.http_edge import http_endpoint, json_response
from shared.core.timeutil import utc_now
from shared.readiness.document import metrics_document
from shared.readiness.figures import aggregate
from shared.readiness.window import parse_window

bp = func.Blueprint()


@bp.function_name("metrics")
@bp.route(route="metrics", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def metrics(req: func.HttpRequest) -> func.HttpResponse:
    window = parse_window(dict(req.params), context.catalog(), utc_now())
    figures = aggregate(context.readiness_store().summaries(window))
    return json_response(200, metrics_document(window, figures))
