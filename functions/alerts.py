"""POST /api/alerts: Azure Monitor action-group webhooks (common alert schema); and the minute timer that moves an
incident of stateless alerts only (they never send `Resolved`) to monitoring once they are quiet."""

from __future__ import annotations

import logging

import azure.functions as func

from functions import context
from functions.http_edge import announce, http_endpoint, json_response
from functions.lazy import lazy
from functions.observed import observed
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.timeline import STATUS_CHANGED

alert = lazy("shared.azure_monitor.alert")
alert_intake = lazy("shared.incidents.alert_intake")

bp = func.Blueprint()
log = logging.getLogger("firebell.alerts")


@bp.function_name("alerts")
@bp.route(route="alerts", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@http_endpoint
def receive(req: func.HttpRequest) -> func.HttpResponse:
    context.verify_secure_webhook(req.headers.get("Authorization"))
    received = alert.parse_alert(req.get_body())
    intake = alert_intake.receive_alert(received, context.catalog(), context.incident_store(), utc_now())
    if intake.incident_id is not None:
        announce(intake.incident_id, intake.event_ids, responders_act=intake.changed_incident, kinds=intake.kinds)
    alert_intake.measure(intake, received)
    log_event(
        log,
        "alert received",
        incident=intake.incident_id,
        event=intake.event_ids[-1] if intake.event_ids else None,
        function="alerts",
        outcome=intake.outcome,
        alert=intake.alert_key,
        drill=received.drill or None,  # only drills carry the dimension
    )
    return json_response(
        202,
        {
            "incident": intake.incident_id,
            "alert": intake.alert_key,
            "deduplicated": intake.deduplicated,
            "outcome": intake.outcome,
        },
    )


@bp.function_name("quiet_alerts")
@bp.timer_trigger(arg_name="timer", schedule="30 * * * * *", run_on_startup=False)
@observed
def quiet_alerts(timer: func.TimerRequest) -> None:
    for incident_id, event_ids in alert_intake.settle_quiet(context.catalog(), context.incident_store(), utc_now()):
        announce(incident_id, event_ids, kinds=[STATUS_CHANGED])
        log_event(log, "stateless alerts quiet", incident=incident_id, function="quiet_alerts", outcome="monitoring")
