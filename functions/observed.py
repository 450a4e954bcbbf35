"""What every function does around its flow for telemetry: a queue message's age when it is taken, and the one-time
start of the Azure Monitor set-up after the invocation has answered (shared.core.telemetry: never on the path of the
request or message that woke the instance)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import azure.functions as func

from shared.core import telemetry
from shared.core.timeutil import utc_now


def observed(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Start telemetry (once per process, in the background) after the function has run."""

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            telemetry.start()

    return run


def consumed(queue: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A queue-triggered function: the message's age when taken (firebell.queue.message_age), then as `observed`."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Any:
            for value in (*args, *kwargs.values()):
                if isinstance(value, func.QueueMessage):
                    telemetry.message_consumed(queue, value.insertion_time, utc_now())
            return handler(*args, **kwargs)

        return observed(run)

    return decorate
