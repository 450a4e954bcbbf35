"""What every function does around its flow for telemetry: a queue message's age when it is taken, and the one-time
start of the configuration check and the Azure Monitor set-up after the invocation has answered (functions.startup:
never on the path of the request or message that woke the instance)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import azure.functions as func

from functions import startup
from shared.core import telemetry
from shared.core.timeutil import utc_now
from shared.incidents.changes import incident_of

log = logging.getLogger("firebell.queues")


def observed(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Start the start-up check and telemetry (once per process, in the background) after the function has run."""

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            startup.after_answer()

    return run


def consumed(queue: str, function: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A queue-triggered function (named `function`, by default as its queue): the message's age when taken
    (firebell.queue.message_age), a log line with outcome "failed" when the delivery raises (the host redelivers it,
    or moves it to poison), then as `observed`."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Any:
            message = next((value for value in (*args, *kwargs.values()) if isinstance(value, func.QueueMessage)), None)
            if message is not None:
                telemetry.message_consumed(queue, message.insertion_time, utc_now())
            try:
                return handler(*args, **kwargs)
            except Exception as failure:
                telemetry.log_event(
                    log,
                    "delivery failed",
                    incident=incident_of(message.get_body()) if message is not None else None,
                    function=function or queue,
                    outcome="failed",
                    level=logging.WARNING,
                    error=type(failure).__name__,  # the type only: a message can quote what it failed on
                    delivery=(message.dequeue_count or 1) if message is not None else None,
                )
                raise

        return observed(run)

    return decorate
