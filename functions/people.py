"""A person's notification rules through the API: `GET`, `PUT` and `DELETE /api/people/{person}/notify` (function key).

`{person}` is a name or email from people.toml. A PUT's body is the `[person.notify]` table as JSON; it wins over the
file until it is deleted (shared.oncall.notify_override). Every answer is the rules in force, their source and the
file's rules.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions import context
from functions.http_edge import http_endpoint, json_response
from functions.lazy import lazy
from shared.core.json_body import decode_json_object
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now

if TYPE_CHECKING:
    from shared.oncall.people import Person

notify_override = lazy("shared.oncall.notify_override")

bp = func.Blueprint()
log = logging.getLogger("firebell.oncall")
ROUTE = "people/{person}/notify"


@bp.function_name("get_notify_rules")
@bp.route(route=ROUTE, methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def get_notify_rules(req: func.HttpRequest) -> func.HttpResponse:
    person = _person(req)
    override = context.notify_override_store().get(person)
    return _answer(notify_override.notify_document(person, override, person.rules), override)


@bp.function_name("set_notify_rules")
@bp.route(route=ROUTE, methods=["PUT"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def set_notify_rules(req: func.HttpRequest) -> func.HttpResponse:
    person = _person(req)
    rules = notify_override.parse_notify(decode_json_object(req.get_body()), person)  # 400 before anything is stored
    override = context.notify_override_store().put(person, rules, utc_now(), _if_match(req))
    log_event(
        log,
        "notify rules set",
        function="set_notify_rules",
        outcome="stored",
        person=person.name,
        high=notify_override.channels(rules, "high"),
        low=notify_override.channels(rules, "low"),
        quiet_hours=rules.quiet_hours is not None,
    )
    return _answer(notify_override.notify_document(person, override, person.rules), override)


@bp.function_name("delete_notify_rules")
@bp.route(route=ROUTE, methods=["DELETE"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def delete_notify_rules(req: func.HttpRequest) -> func.HttpResponse:
    person = _person(req)
    deleted = context.notify_override_store().delete(person, _if_match(req))
    outcome = "deleted" if deleted else "none"
    log_event(log, "notify rules reset", function="delete_notify_rules", outcome=outcome, person=person.name)
    return json_response(200, {**notify_override.notify_document(person, None, person.rules), "deleted": deleted})


def _answer(document: dict[str, Any], override: Any) -> func.HttpResponse:
    """The rules in force, with the override's version as the ETag (none while the file's rules apply)."""
    answer = json_response(200, document)
    if override is not None and override.etag:
        answer.headers["ETag"] = override.etag
    return answer


def _if_match(req: func.HttpRequest) -> str | None:
    given = req.headers.get("If-Match")
    return given[:200] if given is not None else None


def _person(req: func.HttpRequest) -> Person:
    """The person the route names; NotFound (404) for anyone not in people.toml."""
    return context.people().listed(req.route_params.get("person") or "")
