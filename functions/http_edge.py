"""The HTTP edge: the one place where core errors become HTTP status codes, JSON responses are encoded, and an HTTP
function that changes an incident gets its change-message queue outputs (the queue chosen by
shared.incidents.changes)."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import azure.functions as func
from azure.core.exceptions import AzureError, HttpResponseError

from shared.core import telemetry
from shared.core.errors import (
    ConfigurationError,
    DependencyUnavailable,
    FirebellError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    StorageUnavailable,
    Unauthorized,
)
from shared.core.queues import CONNECTION, NOTIFICATIONS, STATUSPAGE
from shared.incidents.changes import change_message, first_queue

log = logging.getLogger("firebell.http")

STATUS_BY_ERROR: dict[type[FirebellError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    NotFound: 404,
    PayloadTooLarge: 413,
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


def http_endpoint(handler: Callable[..., func.HttpResponse]) -> Callable[..., func.HttpResponse]:
    """Wrap an HTTP function so every failure is answered in the documented error shape. Telemetry starts after
    the answer is made (shared.core.telemetry: off the path of the request that woke the instance)."""

    @functools.wraps(handler)
    def answer(*args: Any, **kwargs: Any) -> func.HttpResponse:
        try:
            return handler(*args, **kwargs)
        except FirebellError as error:
            return error_response(error)
        except AzureError as error:
            if isinstance(error, HttpResponseError) and (error.status_code or 500) < 500:
                raise  # a 4xx from storage is our bug, not the caller's: let it surface as a 500 and be logged
            log.warning("storage unavailable in %s: %s", handler.__name__, type(error).__name__)
            return error_response(StorageUnavailable("storage is unavailable; retry later"))
        finally:
            telemetry.start()

    return answer


HTTP_OUTPUTS = (STATUSPAGE, NOTIFICATIONS)


def with_change_queues(bp: func.Blueprint) -> Callable[[Any], Any]:
    """Queue outputs named after the queues; the decorated function takes `statuspage` and `notifications`
    arguments (the names the Functions host binds)."""

    def decorate(function: Any) -> Any:
        for queue in HTTP_OUTPUTS:
            function = bp.queue_output(arg_name=queue, queue_name=queue, connection=CONNECTION)(function)
        return function

    return decorate


def announce(
    incident_id: str,
    event_ids: Sequence[str],
    statuspage: func.Out[str],
    notifications: func.Out[str],
    *,
    responders_act: bool | None = None,
    kinds: Sequence[str] | None = None,
) -> None:
    """One message, to notifications (and on from there) when responders act on the change, else to the status page
    alone. `responders_act` overrides what the kinds say: only an alert's intake knows whether its change matters."""
    if not event_ids:
        return
    outputs = {STATUSPAGE: statuspage, NOTIFICATIONS: notifications}
    outputs[first_queue(kinds, responders_act=responders_act)].set(change_message(incident_id, event_ids, kinds))
