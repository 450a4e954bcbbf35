"""Telemetry: structured log fields and Firebell's own metrics, exported to Application Insights by the Azure Monitor
OpenTelemetry distro when APPLICATIONINSIGHTS_CONNECTION_STRING is set — and nothing of it loaded when it is not.

Importing the distro and configuring it costs about half a second (bench/cold_start.py prints the figure), more than
the whole app's own import, so it never runs on a cold start's path: the shell calls `start()` after an invocation
has answered, and the distro is configured once per process on a background thread. Measurements and `firebell.*`
log records made before it is ready are kept (a bounded buffer) and handed over when it is, so the request that
woke the instance is counted too.

Metrics go through the OpenTelemetry metrics API; with telemetry off they are dropped here without importing it.
Log fields (`log_event`) become log record attributes, which the distro's logging handler sends as customDimensions:
ids, names, outcomes and numbers only — never message bodies, alert text or secrets.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
LOGGER = "firebell"  # the logger hierarchy exported with its fields (every Firebell logger is firebell.*)
METER = "firebell"

# The metrics an operator needs. Names are what Application Insights shows in customMetrics (infra/ alerts on
# firebell.poison_messages).
ALERTS_RECEIVED = "firebell.alerts.received"
ALERTS_DEDUPLICATED = "firebell.alerts.deduplicated"
ALERTS_OPENED = "firebell.alerts.opened"
QUEUE_MESSAGE_AGE = "firebell.queue.message_age"
PUBLISH_LAG = "firebell.statuspage.publish_lag"
CARDS_SENT = "firebell.cards.sent"
CARDS_THROTTLED = "firebell.cards.throttled"
WORK_ITEMS_CREATED = "firebell.workitems.created"
POISON_MESSAGES = "firebell.poison_messages"
# Last week's readiness figures, set once a week by the digest timer (attribute `week`, e.g. 2026-W49).
READINESS_INCIDENTS = "firebell.readiness.incidents"
READINESS_RESPONSE = "firebell.readiness.response_time"
READINESS_PAGES = "firebell.readiness.pages"
READINESS_COST = "firebell.readiness.cost"
READINESS_CUSTOMER_FIRST = "firebell.readiness.customer_first"
READINESS_FOLLOW_UPS = "firebell.readiness.follow_ups"

COUNTER, HISTOGRAM, GAUGE = "counter", "histogram", "gauge"
INSTRUMENTS: dict[str, tuple[str, str, str]] = {  # name -> (kind, unit, description)
    ALERTS_RECEIVED: (COUNTER, "{alert}", "Azure Monitor alert deliveries taken in, by outcome"),
    ALERTS_DEDUPLICATED: (COUNTER, "{alert}", "deliveries of an alert already received (repeats and retries)"),
    ALERTS_OPENED: (COUNTER, "{incident}", "incidents opened by an alert"),
    QUEUE_MESSAGE_AGE: (HISTOGRAM, "s", "time from a queue message's insertion to its consumption, by queue"),
    PUBLISH_LAG: (HISTOGRAM, "s", "time from a change to the status page showing it"),
    CARDS_SENT: (COUNTER, "{card}", "Teams cards posted to Workflows"),
    CARDS_THROTTLED: (COUNTER, "{response}", "HTTP 429 answers from Workflows"),
    WORK_ITEMS_CREATED: (COUNTER, "{work_item}", "Azure Boards work items created"),
    POISON_MESSAGES: (GAUGE, "{message}", "messages waiting in the -poison queues, by queue"),
    READINESS_INCIDENTS: (GAUGE, "{incident}", "incidents declared last week, resolved"),
    READINESS_RESPONSE: (GAUGE, "s", "last week's median time to acknowledge, mitigate or resolve, by duration"),
    READINESS_PAGES: (GAUGE, "{page}", "last week's pages, all and in sleep hours (period)"),
    READINESS_COST: (GAUGE, "{currency}", "last week's outage cost"),
    READINESS_CUSTOMER_FIRST: (GAUGE, "{incident}", "last week's incidents a customer reported first"),
    READINESS_FOLLOW_UPS: (GAUGE, "{action}", "follow-ups created for last week's incidents"),
}

_PENDING_LIMIT = 1000  # measurements or log records kept while the distro is being configured
_MAX_TEXT = 120  # a field value longer than this is not an id or a name: cut, so no body can ride along
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

log = logging.getLogger("firebell.telemetry")


# --- structured logs ----------------------------------------------------------------------------------------------
def log_event(
    logger: logging.Logger,
    message: str,
    *,
    incident: str | None = None,
    event: str | None = None,
    function: str | None = None,
    outcome: str | None = None,
    level: int = logging.INFO,
    **fields: str | int | float | bool | None,
) -> None:
    """One log line whose fields land as customDimensions (and, for the console, after the message). `message` is
    a fixed sentence of the code; fields are ids, names, outcomes and numbers (None fields are left out)."""
    named = {"incident": incident, "event": event, "function": function, "outcome": outcome, **fields}
    dimensions = {key: _field(key, value) for key, value in named.items() if value is not None}
    shown = " ".join(f"{key}={value}" for key, value in dimensions.items())
    logger.log(level, "%s (%s)" if shown else "%s", message, *([shown] if shown else []), extra=dimensions)


def _field(key: str, value: object) -> str | int | float | bool:
    if key in _RESERVED:
        raise ValueError(f"log field {key!r} is a LogRecord attribute; name it differently")
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else value[: _MAX_TEXT - 1] + "…"
    raise TypeError(f"log field {key!r} must be a string or a number, not {type(value).__name__}")


# --- metrics ------------------------------------------------------------------------------------------------------
def count(name: str, value: int = 1, **attributes: str | int | bool) -> None:
    _measure(name, COUNTER, value, attributes)


def observe(name: str, value: float, **attributes: str | int | bool) -> None:
    _measure(name, HISTOGRAM, value, attributes)


def gauge(name: str, value: float, **attributes: str | int | bool) -> None:
    _measure(name, GAUGE, value, attributes)


def message_consumed(queue: str, inserted_at: datetime | None, now: datetime) -> None:
    """A queue message's age when its function takes it (the queue's insertion time is whole seconds)."""
    if inserted_at is not None:
        if inserted_at.tzinfo is None:  # the worker's trigger metadata may come without a zone: it is UTC
            inserted_at = inserted_at.replace(tzinfo=UTC)
        observe(QUEUE_MESSAGE_AGE, max(0.0, (now - inserted_at).total_seconds()), queue=queue)


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.meter: Any = None  # set once configured (the distro's provider) or by `use` (a test's provider)
        self.instruments: dict[str, Any] = {}
        self.pending: deque[tuple[str, float, dict[str, Any]]] = deque(maxlen=_PENDING_LIMIT)
        self.buffer: _Buffer | None = None
        self.started = False
        self.failed = False


_state = _State()


def enabled() -> bool:
    """Whether measurements are kept: telemetry is configured (or being configured), or a test installed a
    provider."""
    return _state.meter is not None or (bool(os.environ.get(CONNECTION_SETTING)) and not _state.failed)


def _measure(name: str, kind: str, value: float, attributes: Mapping[str, Any]) -> None:
    declared = INSTRUMENTS[name][0]
    if declared != kind:
        raise ValueError(f"{name} is a {declared}, not a {kind}")
    if _state.meter is None:
        if not enabled():
            return  # telemetry off: nothing is imported, nothing is kept
        with _state.lock:
            if _state.meter is None:
                _state.pending.append((name, value, dict(attributes)))
                return
    _record(name, value, dict(attributes))


def _record(name: str, value: float, attributes: dict[str, Any]) -> None:
    instrument = _state.instruments.get(name)
    if instrument is None:
        kind, unit, description = INSTRUMENTS[name]
        create = {
            COUNTER: _state.meter.create_counter,
            HISTOGRAM: _state.meter.create_histogram,
            GAUGE: _state.meter.create_gauge,
        }[kind]
        instrument = _state.instruments.setdefault(name, create(name, unit=unit, description=description))
    if INSTRUMENTS[name][0] == COUNTER:
        instrument.add(value, attributes)
    elif INSTRUMENTS[name][0] == HISTOGRAM:
        instrument.record(value, attributes)
    else:
        instrument.set(value, attributes)


# --- set-up -------------------------------------------------------------------------------------------------------
class _Buffer(logging.Handler):
    """Keeps `firebell.*` records until the distro's handler exists, then hands them over (bounded: the oldest go)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: deque[logging.LogRecord] = deque(maxlen=_PENDING_LIMIT)

    def emit(self, record: logging.LogRecord) -> None:
        if all(handler is self for handler in logging.getLogger(LOGGER).handlers):
            self.records.append(record)  # else the distro's handler, just added, has it already


def prepare() -> None:
    """At app load, when telemetry is on: keep Firebell's log records for the distro until it is configured."""
    if not os.environ.get(CONNECTION_SETTING):
        return
    with _state.lock:
        if _state.buffer is None and _state.meter is None and not _state.failed:
            _state.buffer = _Buffer()
            logging.getLogger(LOGGER).addHandler(_state.buffer)


def start() -> None:
    """After an invocation has answered: configure the distro once per process, on a background thread. Cheap to
    call again (a flag); does nothing when the connection string is not set."""
    if _state.started or not os.environ.get(CONNECTION_SETTING):
        return
    with _state.lock:
        if _state.started:
            return
        _state.started = True
    prepare()
    threading.Thread(target=configure, name="firebell-telemetry", daemon=True).start()


def configure() -> bool:
    """Configure the Azure Monitor distro for this process (the connection string and, with Entra ID ingestion,
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING come from the environment), then hand over what was kept meanwhile.
    False when it cannot be configured: telemetry stays off for this process, the app runs on."""
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor
        from opentelemetry import metrics

        configure_azure_monitor(
            logger_name=LOGGER,  # only Firebell's records, with their fields; the host relays the rest
            enable_live_metrics=False,  # a long-poll connection per instance, for a view nobody watches for us
        )
        _install(metrics.get_meter(METER))
        return True
    except Exception:  # a broken telemetry set-up must never stop paging
        with _state.lock:
            _state.failed = True
            _state.pending.clear()
            _detach_buffer()
        log.exception("telemetry: Azure Monitor could not be configured; running without it")
        return False


def use(meter_provider: Any) -> None:
    """Record through `meter_provider` (tests and benchmarks: an SDK MeterProvider with an in-memory reader)."""
    _install(meter_provider.get_meter(METER))


def _install(meter: Any) -> None:
    with _state.lock:
        _state.meter = meter
        _state.instruments = {}
        pending, _state.pending = list(_state.pending), deque(maxlen=_PENDING_LIMIT)
        records = list(_state.buffer.records) if _state.buffer else []
        _detach_buffer()
    for name, value, attributes in pending:
        _record(name, value, attributes)
    exporters = [handler for handler in logging.getLogger(LOGGER).handlers if not isinstance(handler, _Buffer)]
    for record in records:
        for handler in exporters:
            handler.handle(record)


def _detach_buffer() -> None:
    if _state.buffer is not None:
        logging.getLogger(LOGGER).removeHandler(_state.buffer)
        _state.buffer = None


def reset() -> None:
    """Back to the state of a fresh process (tests)."""
    global _state
    with _state.lock:
        _detach_buffer()
    _state = _State()
