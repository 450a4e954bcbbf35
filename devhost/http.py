"""HTTP triggers under /api/<route> and the `$web` static website under /status/, served by werkzeug."""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
from typing import Any

import azure.functions as func
from azure.core.exceptions import AzureError, ResourceNotFoundError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devhost.catalog import FunctionSpec
from devhost.invoker import Invoker

log = logging.getLogger("devhost")
WEB_CONTAINER = "$web"
STATUS_PREFIX = "/status"
# Azure Functions caps request bodies at 100 MB; the functions themselves enforce their own smaller limits.
MAX_REQUEST_BYTES = 100 * 1024 * 1024
_ROUTE_PARAMETER = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}")
_CONVERTERS = {"int": "int", "long": "int", "alpha": "string", "guid": "uuid"}


def werkzeug_rule(route_prefix: str, route: str) -> str:
    """Azure route template ('incidents/{id}', '{id:int}', '{*path}', '{id?}') → werkzeug rule."""

    def convert(match: re.Match[str]) -> str:
        catch_all, name, constraint, _optional = match.groups()
        converter = "path" if catch_all else _CONVERTERS.get(constraint or "", "string")
        return f"<{converter}:{name}>"

    prefix = f"/{route_prefix.strip('/')}" if route_prefix else ""
    return f"{prefix}/{_ROUTE_PARAMETER.sub(convert, route.strip('/'))}"


def _json_error(status: int, code: str, detail: str) -> Response:
    return Response(json.dumps({"error": code, "detail": detail}), status=status, mimetype="application/json")


class HttpServer:
    """The WSGI application: route, authorize, invoke, translate the HttpResponse back."""

    def __init__(self, specs: list[FunctionSpec], invoker: Invoker, route_prefix: str = "api") -> None:
        self.invoker = invoker
        self.functions = {spec.name: spec for spec in specs}
        rules = []
        for spec in specs:
            methods = [method.upper() for method in spec.trigger.get("methods") or ["GET", "POST"]]
            rule = werkzeug_rule(route_prefix, spec.trigger.get("route") or spec.name)
            rules.append(Rule(rule, endpoint=spec.name, methods=methods))
            optional = re.sub(r"/\{[^}]+\?\}$", "", spec.trigger.get("route") or "")
            if optional != (spec.trigger.get("route") or ""):
                rules.append(Rule(werkzeug_rule(route_prefix, optional), endpoint=spec.name, methods=methods))
        self.routes = Map(rules, strict_slashes=False)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request.max_content_length = MAX_REQUEST_BYTES
        if request.path == STATUS_PREFIX or request.path.startswith(STATUS_PREFIX + "/"):
            response = self.static_website(request)
        else:
            response = self.function_call(request)
        return response(environ, start_response)

    def function_call(self, request: Request) -> Response:
        try:
            name, route_params = self.routes.bind_to_environ(request.environ).match()
        except MethodNotAllowed:
            return _json_error(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}")
        except NotFound:
            return _json_error(404, "not_found", f"no function is served at {request.path}")
        spec = self.functions[name]
        if not self.authorized(spec, request):
            log.info("function=%s trigger=httpTrigger outcome=unauthorized status=401", spec.name)
            return _json_error(401, "unauthorized", "a valid function key is required (?code= or x-functions-key)")
        try:
            body = request.get_data(cache=False)
        except HTTPException as error:
            return _json_error(error.code or 400, "bad_request", error.description or "unreadable body")
        trigger = func.HttpRequest(
            method=request.method,
            url=request.url,
            headers=dict(request.headers),
            params=dict(request.args),
            route_params={k: str(v) for k, v in route_params.items()},
            body=body,
        )
        try:
            result = self.invoker.invoke(spec, trigger)
        except Exception:
            log.exception("function %s raised", spec.name)
            return _json_error(500, "internal_error", "the function failed; see the host log")
        return _to_response(result)

    @staticmethod
    def authorized(spec: FunctionSpec, request: Request) -> bool:
        if str(spec.trigger.get("authLevel", "FUNCTION")).upper() == "ANONYMOUS":
            return True
        expected = os.environ.get("FIREBELL_FUNCTION_KEY", "")
        offered = request.headers.get("x-functions-key") or request.args.get("code") or ""
        return bool(expected) and hmac.compare_digest(offered.encode(), expected.encode())

    def static_website(self, request: Request) -> Response:
        """Like the Storage static website: index document for folders, the blob's own headers, ETags."""
        if request.method not in ("GET", "HEAD"):
            return Response("Method not allowed", status=405)
        name = request.path[len(STATUS_PREFIX) :].lstrip("/")
        if name == "" or name.endswith("/"):
            name += "index.html"
        try:
            blob = self.invoker.account().container(WEB_CONTAINER).get_blob_client(name)
            properties = blob.get_blob_properties()
            etag = properties.etag
            if etag and request.if_none_match.contains(etag.strip('"')):
                return Response(status=304, headers={"ETag": etag})
            body = b"" if request.method == "HEAD" else blob.download_blob().readall()
        except ResourceNotFoundError:
            return Response("The requested content does not exist.", status=404, mimetype="text/plain")
        except AzureError as error:
            return Response(f"Storage is unavailable ({type(error).__name__}).", status=503, mimetype="text/plain")
        settings = properties.content_settings
        headers = {"ETag": etag} if etag else {}
        if settings.cache_control:
            headers["Cache-Control"] = settings.cache_control
        response = Response(
            body, status=200, headers=headers, content_type=settings.content_type or "application/octet-stream"
        )
        if request.method == "HEAD":
            response.content_length = properties.size
        return response


def _to_response(result: Any) -> Response:
    if result is None:
        return Response(status=204)
    if not isinstance(result, func.HttpResponse):
        return _json_error(500, "internal_error", "the function returned something other than an HttpResponse")
    headers = dict(result.headers)
    content_type = headers.pop("Content-Type", None) or headers.pop("content-type", None)
    if not content_type and result.mimetype:
        content_type = f"{result.mimetype}; charset={result.charset}" if result.charset else result.mimetype
    return Response(result.get_body(), status=result.status_code, headers=headers, content_type=content_type)
