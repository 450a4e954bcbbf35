"""What a process does once, after its first invocation has answered: check the configuration (each problem logged
with file, key and what is wrong) and set up telemetry. Both run on background threads, so neither is on the app's
import nor on the path of the request or message that woke the instance (README: Cold start)."""

from __future__ import annotations

import logging
import threading

from functions import context
from shared.core import telemetry

log = logging.getLogger("firebell.configuration")
_lock = threading.Lock()
_checking: threading.Thread | None = None


def after_answer() -> None:
    """Cheap to call after every invocation: the first call starts the work, later ones find it started."""
    global _checking
    telemetry.start()
    if _checking is not None:
        return
    with _lock:
        if _checking is None:
            _checking = threading.Thread(target=_check, name="firebell-configuration-check", daemon=True)
            _checking.start()


def checked(timeout: float | None = None) -> bool:
    """Whether the start-up check has run to its end (tests wait on it)."""
    if _checking is None:
        return False
    _checking.join(timeout)
    return not _checking.is_alive()


def _check() -> None:
    try:
        context.check()  # logs every problem; the routes that need a broken file answer 503 meanwhile
    except Exception:  # a check that fails must not take the thread's exception to the host's log as a crash
        log.exception("the start-up configuration check failed")
