"""What an operator sees of Firebell at work, through the real functions (the devhost over real HTTP and Azurite):
the alert figures, queue message ages, the status page's publish lag, and log lines whose fields name incident,
event, function and outcome but never carry what a message said."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta

import pytest
import requests
from azure.functions.queue import QueueMessage

from functions import context
from shared.azure_monitor.alert import parse_alert
from shared.core import telemetry
from shared.core.timeutil import utc_now
from shared.incidents.alert_intake import receive_alert
from shared.incidents.changes import change_message
from tests.conftest import ROOT, sample_json
from tests.standins.ingestion_server import IngestionServer

KEY = "telemetry-test-key"
SECRET_WORDS = "card 4111 1111 1111 1111 of Jane Roe declined"  # what an alert said: must never reach a log


def alert_body() -> bytes:
    document = sample_json("59_test_action_metric_static_threshold.json")
    document["data"]["essentials"]["description"] = SECRET_WORDS
    return json.dumps(document).encode()


def fields(record: logging.LogRecord) -> dict[str, object]:
    return {name: getattr(record, name, None) for name in ("incident", "event", "function", "outcome")}


def test_an_alert_delivered_then_repeated_counts_two_received_one_deduplicated_one_opened(
    firebell, metrics, caplog, monkeypatch
):
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    caplog.set_level(logging.INFO, logger="firebell")
    answers = [
        requests.post(f"{firebell}/alerts", params={"code": KEY}, data=alert_body(), timeout=30).json()
        for _ in range(2)
    ]
    assert [(a["incident"], a["outcome"], a["deduplicated"]) for a in answers] == [
        ("INC-1", "opened", False),
        ("INC-1", "duplicate", True),
    ]
    alert = {"severity": "Sev4", "monitoring_service": "Platform"}
    assert sorted(metrics.points(telemetry.ALERTS_RECEIVED), key=lambda point: point[0]["outcome"]) == [
        ({"outcome": "duplicate", "condition": "Fired", **alert}, 1),
        ({"outcome": "opened", "condition": "Fired", **alert}, 1),
    ]
    assert metrics.points(telemetry.ALERTS_DEDUPLICATED) == [({"outcome": "duplicate", **alert}, 1)]
    assert metrics.points(telemetry.ALERTS_OPENED) == [(alert, 1)]

    received = [record for record in caplog.records if record.name == "firebell.alerts"]
    opened_event = context.incident_store().timeline("INC-1")[0].event_id
    assert [fields(record) for record in received] == [
        {"incident": "INC-1", "event": opened_event, "function": "alerts", "outcome": "opened"},
        {"incident": "INC-1", "event": None, "function": "alerts", "outcome": "duplicate"},
    ]
    for record in caplog.records:  # every line logged meanwhile, by any logger
        # The alert's own words, not a bare "4111": a thread id or a timestamp can contain those digits by chance.
        assert "4111 1111" not in record.getMessage() and "4111 1111" not in json.dumps(vars(record), default=str)


def test_a_consumed_queue_message_records_its_age_and_the_trigger_logs_its_outcome(storage_account, metrics, caplog):
    from functions.notifications import on_change

    caplog.set_level(logging.INFO, logger="firebell")
    inserted = utc_now() - timedelta(seconds=30)
    # A message naming no incident event: dropped as unreadable, and still a message consumed 30 s after insertion.
    on_change(QueueMessage(id="m-1", body=b'{"incident": "INC-9"}', dequeue_count=1, insertion_time=inserted))
    ((attributes, (count, total, _, _)),) = metrics.points(telemetry.QUEUE_MESSAGE_AGE)
    assert (attributes, count) == ({"queue": "notifications"}, 1)
    assert 30 <= total < 40
    (record,) = [
        record for record in caplog.records if record.name == "firebell.notifications" and hasattr(record, "outcome")
    ]
    assert fields(record) == {"incident": "INC-9", "event": None, "function": "notifications", "outcome": "handled"}


def test_a_failed_delivery_is_logged_with_its_error_type_and_never_its_words(metrics, caplog):
    from functions.observed import consumed

    @consumed("workitems")
    def on_change(message: QueueMessage) -> None:
        raise RuntimeError(SECRET_WORDS)

    caplog.set_level(logging.INFO, logger="firebell")
    message = QueueMessage(id="m-3", body=b'{"incident": "INC-3", "event": "e"}', dequeue_count=5)
    with pytest.raises(RuntimeError):
        on_change(message=message)
    (record,) = [record for record in caplog.records if record.name == "firebell.queues"]
    assert fields(record) == {"incident": "INC-3", "event": None, "function": "workitems", "outcome": "failed"}
    assert (record.levelname, record.error, record.delivery) == ("WARNING", "RuntimeError", 5)  # type: ignore[attr-defined]
    assert "4111 1111" not in record.getMessage()
    assert metrics.points(telemetry.QUEUE_MESSAGE_AGE) == []  # no insertion time, no age


def test_the_status_page_records_how_long_a_change_took_to_go_live(storage_account, metrics):
    from functions.statuspage import on_change

    changed = utc_now() - timedelta(seconds=5)
    alert = parse_alert(alert_body())
    intake = receive_alert(alert, context.catalog(), context.incident_store(), changed)
    body = change_message(intake.incident_id, intake.event_ids)
    on_change(QueueMessage(id="m-2", body=body.encode(), dequeue_count=1, insertion_time=changed))
    ((attributes, (count, lag, _, _)),) = metrics.points(telemetry.PUBLISH_LAG)
    assert (attributes, count) == ({}, 1)
    assert 5 <= lag < 30  # recorded 5 s ago, then rendered and published now


@pytest.mark.parametrize("poisoned", [0, 2])
def test_health_sets_the_poison_gauge_per_queue(firebell, storage_account, metrics, poisoned, monkeypatch):
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    queue = storage_account.queue("workitems-poison")
    for n in range(poisoned):
        queue.send_message(f"m{n}")
    details = requests.get(f"{firebell}/health/details", headers={"x-functions-key": KEY}, timeout=30)
    assert details.json()["poison_messages"] == poisoned
    assert metrics.by(telemetry.POISON_MESSAGES, "queue") == {
        "statuspage-poison": 0,
        "notifications-poison": 0,
        "workitems-poison": poisoned,
        "escalations-poison": 0,
        "readiness-poison": 0,
        "postmortems-poison": 0,
        "channels-poison": 0,
        "contacts-poison": 0,
    }


EXPORT = """
import logging, time
logging.getLogger().setLevel(logging.INFO)  # as the Functions worker sets it
from shared.core import telemetry
telemetry.prepare()
telemetry.count(telemetry.ALERTS_RECEIVED, outcome="opened", severity="Sev2")  # the first invocation, before start
logger = logging.getLogger("firebell.alerts")
telemetry.log_event(logger, "alert received", incident="INC-7", event="e-1", function="alerts", outcome="opened")
telemetry.start()  # after it answered
while telemetry._state.meter is None and not telemetry._state.failed:
    time.sleep(0.05)
telemetry.count(telemetry.ALERTS_RECEIVED, outcome="duplicate", severity="Sev2")
from opentelemetry import _logs, metrics
metrics.get_meter_provider().force_flush()
_logs.get_logger_provider().force_flush()
"""


def test_the_distro_exports_log_fields_as_custom_dimensions_and_the_metrics_by_name():
    """The real exporter, to a local stand-in of the ingestion endpoint: what Application Insights would store."""
    with IngestionServer() as ingestion:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("APPLICATIONINSIGHTS")}
        environment.update(
            APPLICATIONINSIGHTS_CONNECTION_STRING=ingestion.connection_string(),
            APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",  # the SDK's own usage figures go to Microsoft
        )
        subprocess.run([sys.executable, "-c", EXPORT], cwd=ROOT, env=environment, check=True, timeout=120)
        messages = [e["data"]["baseData"] for e in ingestion.envelopes("MessageData")]
        metrics = [e["data"]["baseData"] for e in ingestion.envelopes("MetricData")]
    (message,) = [m for m in messages if m["message"].startswith("alert received")]
    assert {key: message["properties"].get(key) for key in ("incident", "event", "function", "outcome")} == {
        "incident": "INC-7",
        "event": "e-1",
        "function": "alerts",
        "outcome": "opened",
    }
    received = {
        point["properties"]["outcome"]: point["metrics"][0]["value"]
        for point in metrics
        if point["metrics"][0]["name"] == telemetry.ALERTS_RECEIVED
    }
    assert received == {"opened": 1, "duplicate": 1}
