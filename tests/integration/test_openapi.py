"""The OpenAPI document (functions/openapi.json) is the HTTP contract: it names every route the FunctionApp
registers, with its methods and how it is authenticated, and nothing else; it is served at /api/openapi.json."""

from __future__ import annotations

import json
from collections.abc import Iterator

import requests
from jsonschema import Draft202012Validator

import function_app
from devhost.catalog import by_trigger, discover
from functions.openapi import DOCUMENT

OPENAPI = json.loads(DOCUMENT.read_text(encoding="utf-8"))
FUNCTION_KEY_SCHEMES = {"functionKey", "functionKeyQuery"}


def _registered() -> list[tuple[str, str, str]]:
    """(path, method, auth level) of every HTTP function of the app, as Azure exposes them (under /api/)."""
    found = []
    for spec in by_trigger(discover(function_app.app), "httpTrigger"):  # the SDK indexes an app only once
        level = spec.trigger["authLevel"].lower()
        found += [(f"/api/{spec.trigger['route']}", method.lower(), level) for method in spec.trigger["methods"]]
    return found


REGISTERED = _registered()


def documented_routes() -> Iterator[tuple[str, str, dict]]:
    for path, item in OPENAPI["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_registered_route_and_method_is_documented_and_every_documented_one_exists():
    registered = {(path, method) for path, method, _ in REGISTERED}
    documented = {(path, method) for path, method, _ in documented_routes()}
    assert sorted(registered - documented) == []
    assert sorted(documented - registered) == []
    assert len(registered) == 33


OWN_CREDENTIALS = {
    "/api/teams": {"teamsHmac"},
    "/api/boards/events": {"boardsServiceHookBasic", "boardsServiceHookSecret"},
    "/api/acs/events": {"eventGridSecret", "eventGridEntra"},
    "/api/acs/calls": {"eventGridSecret"},
}


def test_function_key_routes_document_the_key_and_anonymous_routes_say_how_they_are_trusted():
    levels = {(path, method): level for path, method, level in REGISTERED}
    for path, method, operation in documented_routes():
        schemes = {name for requirement in operation["security"] for name in requirement}
        if levels[(path, method)] == "function":
            assert schemes >= FUNCTION_KEY_SCHEMES, (path, method)
            assert "401" in operation["responses"], (path, method)
        else:  # anonymous at the host: Teams and Boards routes check their own credentials; the others are public
            assert schemes == OWN_CREDENTIALS.get(path, set()), (path, method)


def test_every_error_response_is_the_error_shape_and_every_schema_is_valid_json_schema():
    assert OPENAPI["openapi"] == "3.1.0"
    for schema in OPENAPI["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    error = {"$ref": "#/components/schemas/Error"}
    for path, method, operation in documented_routes():
        for status, response in operation["responses"].items():
            # health answers 503 with its own verdict (and, behind the key, its reasons), not an error
            if status.startswith("4") or (status == "503" and not path.startswith("/api/health")):
                assert response["content"]["application/json"]["schema"] == error, (path, method, status)
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                assert "{" + parameter["name"] + "}" in path, (path, parameter["name"])


def test_the_document_is_served_anonymously_at_api_openapi_json(firebell):
    answer = requests.get(f"{firebell}/openapi.json", timeout=30)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    assert answer.json() == OPENAPI
