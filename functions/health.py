"""GET /api/health (anonymous): healthy or unhealthy, one word, from checks cached for CACHE_SECONDS.
GET /api/health/details (function key): every check — storage, configuration, integrations, on-call warnings and
the messages waiting in poison queues.

The anonymous route says nothing internal (rosters, staffing gaps, which integrations are off are a map for an
attacker), and costs storage at most one check per CACHE_SECONDS per instance however often it is called."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import azure.functions as func

from functions import context
from functions.http_edge import azure_errors, json_response
from functions.lazy import lazy
from functions.observed import observed
from shared.core import storage, telemetry
from shared.core.errors import ConfigurationError
from shared.core.queues import QUEUES, poison
from shared.core.timeutil import utc_now
from shared.workitems.service_hook import SECRET_SETTING as SERVICE_HOOK_SECRET

lookup = lazy("shared.oncall.lookup")

bp = func.Blueprint()
log = logging.getLogger("firebell.health")
# Azure's availability test calls every 5 minutes from several locations, load balancers more often: 30 s keeps a
# verdict fresh enough to take an instance out quickly and bounds what a flood of anonymous calls costs storage.
CACHE_SECONDS = 30.0
_verdict: tuple[float, bool] | None = None  # (time.monotonic() of the check, healthy)
_verdict_lock = threading.Lock()


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@observed
def health(req: func.HttpRequest) -> func.HttpResponse:
    healthy = _cached_verdict()
    word = "healthy" if healthy else "unhealthy"
    return json_response(200 if healthy else 503, {"status": word})


@bp.function_name("health_details")
@bp.route(route="health/details", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@observed
def health_details(req: func.HttpRequest) -> func.HttpResponse:
    body = _details()
    return json_response(200 if body["status"] == "healthy" else 503, body)


def forget_verdict() -> None:
    """Drop the cached verdict (tests, and the operator tools after changing settings)."""
    global _verdict
    with _verdict_lock:
        _verdict = None


def _cached_verdict() -> bool:
    """Storage reachable and configuration valid, checked at most once per CACHE_SECONDS on this instance (the
    check also sets the poison-queue gauge that infra/ alerts on). Concurrent callers during a check wait for it."""
    global _verdict
    with _verdict_lock:
        if _verdict is not None and time.monotonic() - _verdict[0] < CACHE_SECONDS:
            return _verdict[1]
        checks = _essentials()
        healthy = checks["storage"] == "reachable" and checks["configuration"] == "valid"
        if checks["storage"] == "reachable":
            _poison_messages()
        _verdict = (time.monotonic(), healthy)
        telemetry.log_event(log, "health checked", function="health", outcome="healthy" if healthy else "unhealthy")
        return healthy


def _essentials() -> dict[str, str]:
    """What decides healthy: storage answers and the configuration is valid (one list-tables call, no queries)."""
    checks: dict[str, str] = {}
    try:
        next(iter(storage.account().table_service.list_tables(results_per_page=1)), None)
        checks["storage"] = "reachable"
    except azure_errors.AzureError as error:
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
        hook = os.environ.get(SERVICE_HOOK_SECRET, "").strip()  # follow-ups done: POST /api/boards/events
        checks["boards_service_hook"] = "configured" if hook else "not configured"
        checks["notifications"] = "configured" if context.settings().teams_workflow_url else "not configured"
        checks["channels"] = "configured" if context.settings().channels_configured else "not configured"
        checks["sms"] = _sms_state(context.settings())  # paging by phone
        checks["configuration"] = "valid"
    except ConfigurationError as error:
        log.error("configuration invalid: %s", error.detail)  # details (paths) stay in the log, not on any route
        checks["configuration"] = "invalid"
    return checks


def _details() -> dict[str, object]:
    checks = _essentials()
    checks["oncall"], warnings = _oncall(checks)
    healthy = checks["storage"] == "reachable" and checks["configuration"] == "valid"
    body = {"status": "healthy" if healthy else "unhealthy", **checks, "warnings": warnings}
    reachable = checks["storage"] == "reachable"
    body["poison_messages"] = _poison_messages() if reachable else None
    body["unsent_changes"] = _unsent_changes() if reachable else None
    telemetry.log_event(
        log,
        "health checked",
        function="health_details",
        outcome=body["status"],
        storage=checks["storage"],
        configuration=checks["configuration"],
        poison_messages=body["poison_messages"],
        unsent_changes=body["unsent_changes"],
    )
    return body


def _oncall(checks: dict[str, str]) -> tuple[str, list[str]]:
    """On-call gaps and unhealthy set-ups are warnings and never make either route 503: Azure's health check and
    load balancers read 503 as "take this instance out", which would stop alert intake — a gap next Tuesday is
    for people to fix, and Firebell can still take alerts and page whoever is on call now."""
    if checks["configuration"] != "valid":
        return "unknown", []
    if not context.schedule().rosters:
        return "not configured", []
    schedule, now = context.schedule(), utc_now()
    try:
        overrides = context.override_store() if checks["storage"] == "reachable" else None
        warnings = lookup.current_warnings(schedule, overrides, now)
    except azure_errors.AzureError:  # overrides unreadable: judge the rotations alone
        warnings = lookup.current_warnings(schedule, None, now)
    return ("warnings" if warnings else "ok"), warnings


def _poison_messages() -> int | None:
    """Messages that failed for good and wait in a `<queue>-poison` for an operator, summed over the app's queues.

    A count only, and never a reason to answer 503 (the app still takes alerts and pages); which incidents and why is
    on the timeline. It costs one properties request per poison queue (four, each a
    few milliseconds on the account's own network); nothing is listed or read, and a missing queue counts 0. None
    when a queue cannot be asked (storage trouble already shows as `storage`)."""
    account = storage.account()
    try:
        counts = {poison(queue): account.message_count(poison(queue)) for queue in QUEUES}
    except azure_errors.AzureError as error:
        log.warning("poison queues not counted: %s", type(error).__name__)
        return None
    for queue, waiting in counts.items():  # per queue for the operator (infra/ alerts on any above 0)
        telemetry.gauge(telemetry.POISON_MESSAGES, waiting, queue=queue)
    return sum(counts.values())


def _sms_state(settings: Any) -> str:
    if not settings.sms_configured:
        return "not configured"
    from shared.contacts.acs_auth import sign_in_state

    return sign_in_state(settings.acs_access_key, os.environ)


def _unsent_changes() -> int | None:
    """Changes whose announcement could not be queued and that the sweeper has not sent yet (shared.incidents.unsent):
    0 but for moments after a queue failure; a number that stays up says the sweeper is not running or the queue is
    still failing. One short range query; None when it cannot be read."""
    try:
        return len(context.incident_store().unsent_changes())
    except azure_errors.AzureError as error:
        log.warning("unsent changes not counted: %s", type(error).__name__)
        return None
