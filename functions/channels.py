"""Incident channels: the `channels` queue (shared.channels.flows) and POST /api/graph/notifications, where
Microsoft Graph validates its subscription and tells of new messages in an incident's channel
(shared.channels.change_notifications).

The route is anonymous at the Functions level — Graph cannot send a function key header — and the subscription's
clientState (GRAPH_CLIENT_STATE) is the credential: a notification without it is refused with 401 and changes
nothing. A believed one puts a transcript message for the channel's incident on `channels`; Graph gets 202.
"""

from __future__ import annotations

import json
import logging

import azure.functions as func

from functions import context
from functions.http_edge import http_endpoint, json_response
from functions.lazy import lazy
from functions.observed import consumed, observed
from shared.core import storage
from shared.core.json_body import decode_json_object, require_bounded
from shared.core.queues import CHANNELS, CONNECTION
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.changes import incident_of

change_notifications = lazy("shared.channels.change_notifications")
connections = lazy("shared.channels.connections")
flows = lazy("shared.channels.flows")
ledger = lazy("shared.channels.ledger")

bp = func.Blueprint()
log = logging.getLogger("firebell.channels")


@bp.function_name("channels")
@bp.queue_trigger(arg_name="message", queue_name=CHANNELS, connection=CONNECTION)
@consumed(CHANNELS)
def on_change(message: func.QueueMessage) -> None:
    body, delivery = message.get_body(), message.dequeue_count or 1
    settings = context.settings()
    deferred = flows.on_change(
        body,
        message.id or "",
        delivery,
        utc_now(),
        store=context.incident_store(),
        settings=settings,
        config=context.configuration(),
        account=storage.account(),
        services=connections.Connections(settings, context.workflow_sender()),
    )
    outcome = "deferred" if deferred is not None else "handled"
    log_event(
        log, "channel followed", incident=incident_of(body), function="channels", outcome=outcome, delivery=delivery
    )


@bp.function_name("channel_subscriptions")
@bp.timer_trigger(arg_name="timer", schedule="0 */10 * * * *", run_on_startup=False)
@observed
def renew_subscriptions(timer: func.TimerRequest) -> None:
    settings = context.settings()
    renewed = flows.renew_subscriptions(
        utc_now(), settings, storage.account(), connections.Connections(settings, context.workflow_sender())
    )
    log_event(log, "subscriptions renewed", function="channel_subscriptions", outcome=f"{renewed} renewed")


@bp.function_name("graph_notifications")
@bp.route(route="graph/notifications", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@http_endpoint
def on_notification(req: func.HttpRequest) -> func.HttpResponse:
    token = change_notifications.validation_token(req.params.get("validationToken"))
    if token is not None:  # the handshake: the token back, unchanged, as plain text
        return func.HttpResponse(token, status_code=200, mimetype="text/plain", charset="utf-8")
    body = req.get_body()
    require_bounded(body)
    notified = change_notifications.believed(decode_json_object(body), context.settings().graph_client_state, utc_now())
    account = storage.account()
    channels = ledger.ChannelLedger(account.table(ledger.CHANNELS_TABLE))
    incidents = {found for n in notified if (found := channels.incident_of(n.channel_id)) is not None}
    for incident in sorted(incidents):
        account.queue(CHANNELS).send_message(json.dumps({"incident": incident, "transcript": True}))
    log_event(log, "graph notified", function="graph_notifications", outcome=f"{len(incidents)} channels")
    return json_response(202, {"accepted": len(notified), "channels": len(incidents)})
