"""Follow-ups to done: POST /api/boards/events, the Azure DevOps service hook saying a follow-up's task is done
(shared.workitems.followup_done), and the follow-up reminders timer (shared.notifications.followup_reminders).

The route is anonymous at the Functions level: the service hook's shared secret (BOARDS_SERVICE_HOOK_SECRET, as the
basic auth password or the X-Firebell-Secret header) is the credential, checked before the body is parsed.
"""

from __future__ import annotations

import logging
import os
import secrets

import azure.functions as func

from functions import context
from functions.http_edge import http_endpoint, json_response
from functions.lazy import lazy
from functions.observed import observed
from shared.core import storage
from shared.core.json_body import decode_json_object, require_bounded
from shared.core.queues import POSTMORTEMS, READINESS
from shared.core.telemetry import log_event
from shared.core.timeutil import utc_now
from shared.incidents.changes import change_message
from shared.incidents.timeline import FOLLOW_UP_DONE
from shared.workitems.service_hook import SECRET_HEADER, SECRET_SETTING, parse_event, verify_credentials

followup_done = lazy("shared.workitems.followup_done")
followup_index = lazy("shared.workitems.followup_index")
followup_reminders = lazy("shared.notifications.followup_reminders")

bp = func.Blueprint()
log = logging.getLogger("firebell.followups")


@bp.function_name("boards_events")
@bp.route(route="boards/events", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@http_endpoint
def on_boards_event(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    require_bounded(body)
    verify_credentials(
        req.headers.get("Authorization"), req.headers.get(SECRET_HEADER), os.environ.get(SECRET_SETTING, "")
    )
    update = parse_event(decode_json_object(body))
    outcome = followup_done.on_update(
        update,
        followup_index.FollowUpIndex(storage.account()),
        context.incident_store(),
        context.configuration().boards(),
        utc_now(),
    )
    if outcome.incident_id and outcome.event_id:
        # The readiness figures and the review draft count follow-ups done. Told again for a repeated event (its
        # first telling may have failed): both re-read the incident, so a second telling changes nothing. A failure
        # answers 503, and Azure DevOps delivers the event again.
        told = change_message(outcome.incident_id, [outcome.event_id], [FOLLOW_UP_DONE])
        for queue in (READINESS, POSTMORTEMS):
            storage.account().queue(queue).send_message(told)
    log_event(
        log,
        "boards event",
        incident=outcome.incident_id,
        event=outcome.event_id,
        function="boards_events",
        outcome=outcome.outcome,
    )
    return json_response(outcome.status, outcome.document())


_INSTANCE = secrets.token_hex(16)  # this process, as the reminders' lease holder


@bp.function_name("followup_reminders")
@bp.timer_trigger(arg_name="timer", schedule="0 */10 * * * *", run_on_startup=False)
@observed
def remind(timer: func.TimerRequest) -> None:
    index = followup_index.FollowUpIndex(storage.account())
    followup_reminders.remind_follow_ups(utc_now(), context.notifier(), index, _INSTANCE)
