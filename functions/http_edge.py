"""The HTTP edge: the one place where core errors become HTTP status codes, JSON responses are encoded, and an HTTP
function that changes an incident announces the change (the queue chosen by shared.incidents.changes)."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions import context, startup
from functions.lazy import lazy
from shared.core import storage
from shared.core.errors import (
    ConfigurationError,
    DependencyUnavailable,
    FirebellError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    StorageUnavailable,
    Unauthorized,
)
from shared.core.timeutil import utc_now
from shared.incidents.changes import change_message, first_queue
from shared.incidents.incident import incident_id, incident_number

if TYPE_CHECKING:
    from shared.incidents.unsent import UnsentChange

# An SDK that raised one of its errors has loaded this module; naming the class loads nothing on a cold start.
azure_errors = lazy("azure.core.exceptions")
unsent = lazy("shared.incidents.unsent")  # only when an announcement fails
log = logging.getLogger("firebell.http")

STATUS_BY_ERROR: dict[type[FirebellError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    NotFound: 404,
    PayloadTooLarge: 413,
    PreconditionFailed: 412,
    StorageUnavailable: 503,
    ConfigurationError: 503,
    DependencyUnavailable: 503,
}


def json_response(status: int, payload: Any) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(payload, default=str), status_code=status, mimetype="application/json", charset="utf-8"
    )


def error_response(error: FirebellError) -> func.HttpResponse:
    status = next((code for kind, code in STATUS_BY_ERROR.items() if isinstance(error, kind)), 500)
    return json_response(status, {"error": error.code, "detail": error.detail})


def routed_incident(req: func.HttpRequest) -> str:
    """The `{id}` of an incident route, as an incident id; InvalidInput (400) when it is none."""
    text = req.route_params.get("id", "")
    number = incident_number(text)
    if number is None:
        raise InvalidInput(f"{text[:40]!r} is not an incident id (expected INC-<number>)")
    return incident_id(number)


def http_endpoint(handler: Callable[..., func.HttpResponse]) -> Callable[..., func.HttpResponse]:
    """Wrap an HTTP function so every failure is answered in the documented error shape. The start-up check and
    telemetry start after the answer is made (functions.startup: off the path of the request that woke the
    instance)."""

    @functools.wraps(handler)
    def answer(*args: Any, **kwargs: Any) -> func.HttpResponse:
        try:
            return handler(*args, **kwargs)
        except FirebellError as error:
            return error_response(error)
        except azure_errors.AzureError as error:
            if isinstance(error, azure_errors.HttpResponseError) and (error.status_code or 500) < 500:
                # A 4xx from storage (a key rotated, a role assignment still propagating, or our bug) is logged in
                # full, but still answered 503: a 500 is never retried by Azure Monitor, so the alert would be lost.
                log.error("storage refused a request in %s", handler.__name__, exc_info=error)
            else:
                log.warning("storage unavailable in %s: %s", handler.__name__, type(error).__name__)
            return error_response(StorageUnavailable("storage is unavailable; retry later"))
        finally:
            startup.after_answer()

    return answer


def announce(
    incident_id: str,
    event_ids: Sequence[str],
    *,
    responders_act: bool | None = None,
    kinds: Sequence[str] | None = None,
) -> str | None:
    """One message, to notifications (and on from there) when responders act on the change, else to the status page
    alone; returns the queue, None when there was nothing to announce. `responders_act` overrides what the kinds say:
    only an alert's intake knows whether its change matters.

    Sent with the queue SDK inside the function, not by an output binding: the host writes a binding's message after
    the function returned and answers 500 when that fails, which Azure Monitor never retries. Here a failed send is
    logged and the caller still gets its success answer, for the change is saved and no caller's retry would
    announce it again (Azure Monitor's finds a duplicate, a Teams user's is a new command, a declaration's finds its
    key). The message is recorded beside the incident instead, and the sweeper's next tick sends it
    (shared.incidents.unsent); should that write fail too, a page due is still started by the sweeper, which passes
    the incident's timeline on, and otherwise the status page's hourly refresh shows the change (README: the page
    always goes out)."""
    if not event_ids:
        return None
    queue = first_queue(kinds, responders_act=responders_act)
    message = change_message(incident_id, event_ids, kinds)
    try:
        storage.account().queue(queue).send_message(message)
    except azure_errors.AzureError as failure:
        kept = _kept(unsent.UnsentChange(incident_id, queue, message, utc_now()))
        log.error("%s: announcement to %s failed (%s); %s", incident_id, queue, type(failure).__name__, kept)
        return None
    return queue


def _kept(change: UnsentChange) -> str:
    """Record a change whose announcement failed, for the sweeper to send; says who carries it now."""
    try:
        context.incident_store().record_unsent(change)
    except azure_errors.AzureError:
        return "not recorded either: a page due still goes out by the sweeper, the hourly status refresh shows it"
    return "recorded: the sweeper sends it"
