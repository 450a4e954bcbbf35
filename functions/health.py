"""GET /api/health: is storage reachable and is the configuration valid? And how many messages wait in poison
queues (a count only)."""

from __future__ import annotations

import logging

import azure.functions as func
from azure.core.exceptions import AzureError

from functions import context
from functions.http_edge import json_response
from functions.observed import observed
from shared.core import storage, telemetry
from shared.core.errors import ConfigurationError
from shared.core.queues import QUEUES, poison
from shared.core.timeutil import utc_now
from shared.oncall.lookup import current_warnings

bp = func.Blueprint()
log = logging.getLogger("firebell.health")


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@observed
def health(req: func.HttpRequest) -> func.HttpResponse:
    checks: dict[str, str] = {}
    try:
        next(iter(storage.account().table_service.list_tables(results_per_page=1)), None)
        checks["storage"] = "reachable"
    except AzureError as error:
        checks["storage"] = f"unreachable ({type(error).__name__})"
    except ConfigurationError as error:  # no storage setting: which one is said in the log, not on a public route
        log.error("storage not configured: %s", error.detail)
        checks["storage"] = "not configured"
    try:
        config = context.configuration()
        for check in (config.catalog, config.schedule, config.service_rosters, config.boards, config.escalations):
            check()
        checks["secure_webhook"] = "on" if context.secure_webhook() else "off"
        checks["boards"] = "configured" if context.settings().boards_configured else "not configured"
        checks["notifications"] = "configured" if context.settings().teams_workflow_url else "not configured"
        checks["configuration"] = "valid"
    except ConfigurationError as error:
        log.error("configuration invalid: %s", error.detail)  # details (paths) stay in the log, not on a public route
        checks["configuration"] = "invalid"
    checks["oncall"], warnings = _oncall(checks)
    healthy = checks["storage"] == "reachable" and checks["configuration"] == "valid"
    body = {"status": "healthy" if healthy else "unhealthy", **checks, "warnings": warnings}
    body["poison_messages"] = _poison_messages() if checks["storage"] == "reachable" else None
    telemetry.log_event(
        log,
        "health checked",
        function="health",
        outcome=body["status"],
        storage=checks["storage"],
        configuration=checks["configuration"],
        poison_messages=body["poison_messages"],
    )
    return json_response(200 if healthy else 503, body)


def _oncall(checks: dict[str, str]) -> tuple[str, list[str]]:
    """On-call gaps and unhealthy set-ups are warnings and never make this route 503: Azure's health check and
    load balancers read 503 as "take this instance out", which would stop alert intake — a gap next Tuesday is
    for people to fix, and Firebell can still take alerts and page whoever is on call now."""
    if checks["configuration"] != "valid":
        return "unknown", []
    if not context.schedule().rosters:
        return "not configured", []
    schedule, now = context.schedule(), utc_now()
    try:
        overrides = context.override_store() if checks["storage"] == "reachable" else None
        warnings = current_warnings(schedule, overrides, now)
    except AzureError:  # overrides unreadable: judge the rotations alone
        warnings = current_warnings(schedule, None, now)
    return ("warnings" if warnings else "ok"), warnings


def _poison_messages() -> int | None:
    """Messages that failed for good and wait in a `<queue>-poison` for an operator, summed over the app's queues.

    A count only, and never a reason to answer 503 (the app still takes alerts and pages). This route is anonymous:
    the total says that something failed, nothing of what — queue names, incidents and reasons stay behind the
    function key (the timeline says what failed). It costs one properties request per poison queue (four, each a
    few milliseconds on the account's own network); nothing is listed or read, and a missing queue counts 0. None
    when a queue cannot be asked (storage trouble already shows as `storage`)."""
    account = storage.account()
    try:
        counts = {poison(queue): account.message_count(poison(queue)) for queue in QUEUES}
    except AzureError as error:
        log.warning("poison queues not counted: %s", type(error).__name__)
        return None
    for queue, waiting in counts.items():  # per queue for the operator (infra/ alerts on any above 0)
        telemetry.gauge(telemetry.POISON_MESSAGES, waiting, queue=queue)
    return sum(counts.values())
