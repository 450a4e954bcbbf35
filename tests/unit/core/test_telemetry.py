"""Telemetry: log fields become record attributes (customDimensions) and never carry a body; measurements are
dropped without Application Insights, kept until the distro is ready with it, and nothing of the distro (or of
OpenTelemetry) is imported on an app load."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from shared.core import telemetry
from shared.core.telemetry import log_event
from tests.conftest import ROOT

CONNECTION = "InstrumentationKey=00000000-0000-4000-8000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured():
    handler, logger = Captured(), logging.getLogger("firebell.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


@pytest.fixture(autouse=True)
def fresh():
    telemetry.reset()
    yield
    telemetry.reset()


def test_log_fields_become_record_attributes_and_follow_the_message(captured):
    log_event(
        logging.getLogger("firebell.test"), "alert received", incident="INC-4", function="alerts", outcome="opened"
    )
    (record,) = captured.records
    assert (record.incident, record.function, record.outcome) == ("INC-4", "alerts", "opened")  # type: ignore[attr-defined]
    assert not hasattr(record, "event")  # a field left out is not sent as None
    assert record.getMessage() == "alert received (incident=INC-4 function=alerts outcome=opened)"


def test_a_field_long_enough_to_be_a_body_is_cut(captured):
    body = "Customer card 4111 1111 1111 1111 declined; " * 10
    log_event(logging.getLogger("firebell.test"), "teams command", outcome=body)
    (record,) = captured.records
    assert len(record.outcome) == 120 and record.outcome.endswith("…")  # type: ignore[attr-defined]
    assert body not in record.getMessage()


def test_fields_that_are_record_attributes_or_structures_are_refused(captured):
    logger = logging.getLogger("firebell.test")
    with pytest.raises(ValueError, match="'name' is a LogRecord attribute"):
        log_event(logger, "x", name="INC-1")
    with pytest.raises(TypeError, match="'detail' must be a string or a number, not dict"):
        log_event(logger, "x", detail={"text": "a body"})  # type: ignore[arg-type]
    assert captured.records == []


def test_without_application_insights_measurements_are_dropped(monkeypatch):
    monkeypatch.delenv(telemetry.CONNECTION_SETTING, raising=False)
    telemetry.count(telemetry.ALERTS_RECEIVED, outcome="opened")
    assert not telemetry.enabled() and list(telemetry._state.pending) == []


def test_a_measurement_of_the_wrong_kind_is_refused(metrics):
    with pytest.raises(ValueError, match=r"firebell\.poison_messages is a gauge, not a counter"):
        telemetry.count(telemetry.POISON_MESSAGES)


def test_what_was_measured_and_logged_before_the_distro_was_ready_is_handed_over(monkeypatch):
    from tests.measured import Measured

    monkeypatch.setenv(telemetry.CONNECTION_SETTING, CONNECTION)
    logger = logging.getLogger("firebell.test")
    logger.setLevel(logging.INFO)
    try:
        telemetry.prepare()  # at app load
        telemetry.count(telemetry.ALERTS_RECEIVED, outcome="opened")
        telemetry.observe(telemetry.QUEUE_MESSAGE_AGE, 2.5, queue="notifications")
        log_event(logger, "alert received", incident="INC-1", function="alerts", outcome="opened")
        exporter = Captured()  # stands for the distro's handler, which configuring adds to the firebell logger
        logging.getLogger(telemetry.LOGGER).addHandler(exporter)
        measured = Measured()  # the provider is ready
        assert measured.points(telemetry.ALERTS_RECEIVED) == [({"outcome": "opened"}, 1)]
        assert measured.points(telemetry.QUEUE_MESSAGE_AGE) == [({"queue": "notifications"}, (1, 2.5, 2.5, 2.5))]
        (record,) = exporter.records
        assert (record.incident, record.outcome) == ("INC-1", "opened")  # type: ignore[attr-defined]
        # The buffer is gone: later records reach the exporter once, directly.
        log_event(logger, "alert received", incident="INC-2", function="alerts", outcome="duplicate")
        assert [r.incident for r in exporter.records] == ["INC-1", "INC-2"]  # type: ignore[attr-defined]
    finally:
        logging.getLogger(telemetry.LOGGER).removeHandler(exporter)
        logger.setLevel(logging.NOTSET)
        measured.provider.shutdown()


PROBE = """
import json, sys
import function_app
from shared.core import telemetry
{then}
loaded = sorted(m for m in sys.modules if m.startswith(("azure.monitor", "opentelemetry")))
print(json.dumps({{"loaded": loaded, "configured": telemetry._state.meter is not None}}))
"""


def loaded_after(then: str, **settings: str) -> dict:
    environment = {key: value for key, value in os.environ.items() if key != telemetry.CONNECTION_SETTING}
    environment.update(AzureWebJobsStorage="UseDevelopmentStorage=true", **settings)
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(then=then)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_the_setting_nothing_of_the_distro_or_opentelemetry_is_ever_imported():
    # An invocation's worth of telemetry calls, then the start that follows every invocation.
    then = (
        "telemetry.count(telemetry.ALERTS_RECEIVED, outcome='opened')\n"
        "telemetry.log_event(__import__('logging').getLogger('firebell.x'), 'x', outcome='opened')\n"
        "telemetry.start()"
    )
    assert loaded_after(then) == {"loaded": [], "configured": False}


def test_with_the_setting_loading_the_app_imports_nothing_of_the_distro():
    assert loaded_after("", APPLICATIONINSIGHTS_CONNECTION_STRING=CONNECTION) == {"loaded": [], "configured": False}


def test_with_the_setting_the_distro_is_configured_after_the_first_invocation():
    then = (
        "telemetry.start()\nimport time\n"
        "while telemetry._state.meter is None and not telemetry._state.failed: time.sleep(0.05)"
    )
    found = loaded_after(then, APPLICATIONINSIGHTS_CONNECTION_STRING=CONNECTION)
    assert found["configured"] is True
    assert {"azure.monitor.opentelemetry", "opentelemetry.sdk.metrics"} <= set(found["loaded"])
