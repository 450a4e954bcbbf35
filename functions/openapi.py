"""GET /api/openapi.json: the OpenAPI 3.1 document of the HTTP API (openapi.json beside this module). Anonymous: it is
the public contract and names no secret, only how each route is authenticated."""

from __future__ import annotations

from pathlib import Path

import azure.functions as func

DOCUMENT = Path(__file__).with_name("openapi.json")

bp = func.Blueprint()


@bp.function_name("openapi")
@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(DOCUMENT.read_bytes(), status_code=200, mimetype="application/json", charset="utf-8")
