"""The readiness report (GET /api/readiness/report, function key; rendered hourly into the private `postmortems`
container) and the weekly digest timer (Teams card and gauges): shared.readiness.publication and .weekly_digest."""

from __future__ import annotations

import logging
import secrets

import azure.functions as func

from functions import context
from functions.http_edge import http_endpoint
from functions.lazy import lazy
from functions.observed import observed
from shared.core import storage
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now

ledger = lazy("shared.notifications.ledger")
publication = lazy("shared.readiness.publication")  # Jinja2 loads with a render
report_store = lazy("shared.readiness.report_store")
weekly = lazy("shared.readiness.weekly_digest")

bp = func.Blueprint()
log = logging.getLogger("firebell.readiness")

# No script, no request anywhere: styles are inline, charts are inline SVG.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@bp.function_name("readiness_report")
@bp.route(route="readiness/report", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def readiness_report(req: func.HttpRequest) -> func.HttpResponse:
    """The last render; the first request after a deployment renders it (the hourly timer keeps it current)."""
    reports = report_store.ReportStore(storage.account())
    stored = reports.read()
    if stored is not None:
        body, rendered = stored.html, stored.rendered_at
    else:
        rendered = utc_now()
        body = publication.publish_report(
            context.readiness_store(), reports, context.schedule(), context.override_store().overlapping, rendered
        )
    headers = {**SECURITY_HEADERS, "Last-Modified": rendered.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    return func.HttpResponse(body, status_code=200, headers={**headers, "Content-Type": report_store.CONTENT_TYPE})


@bp.function_name("readiness_report_hourly")
@bp.timer_trigger(arg_name="timer", schedule="0 20 * * * *", run_on_startup=False)
@observed
def hourly(timer: func.TimerRequest) -> None:
    # Rendering twice (two instances) writes the same page twice: harmless, so no lease.
    publication.publish_report(
        context.readiness_store(),
        report_store.ReportStore(storage.account()),
        context.schedule(),
        context.override_store().overlapping,
        utc_now(),
    )


@bp.function_name("readiness_weekly_digest")
@bp.timer_trigger(arg_name="timer", schedule="0 0 * * * *", run_on_startup=False)
@observed
def weekly_digest(timer: func.TimerRequest) -> None:
    """Hourly; sends last week's digest once it is due (Monday 09:00 UTC) and not yet sent."""
    settings = context.settings()
    outcome = weekly.send_weekly_digest(
        utc_now(),
        context.readiness_store(),
        ledger.EscalationLedger(storage.account()),
        context.workflow_sender(),
        settings.teams_workflow_url or None,
        secrets.token_hex(16),  # this invocation holds the lease: not even a second one in this process may share it
        f"{settings.api_base_url}/readiness/report" if settings.api_base_url else None,
    )
    log_event(log, "weekly digest", function="readiness_weekly_digest", outcome=outcome)
