"""The readiness report and the weekly digest against Azurite and real HTTP: the report is served only with the
function key, is kept in the private `postmortems` container and never in `$web`, and shows the stored summaries'
figures; the weekly digest card reaches the Teams Workflows stand-in exactly once, however often the timer fires
and on however many instances, and a failed post is sent by a later tick."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError

from functions import context
from shared.core import telemetry
from shared.core.timeutil import utc_now
from shared.notifications.ledger import EscalationLedger
from shared.readiness.report_store import BLOB, CONTAINER
from shared.readiness.store import ReadinessStore
from shared.readiness.weekly import due, last_week
from shared.readiness.weekly_digest import (
    ALREADY_SENT,
    HELD,
    LEDGER,
    NOT_CONFIGURED,
    NOT_DUE,
    SENT,
    send_weekly_digest,
)
from shared.teams.workflow import WorkflowError, WorkflowSender
from tests.conftest import ROOT
from tests.standins.ingestion_server import IngestionServer
from tests.standins.workflow_server import WorkflowServer
from tests.unit.readiness.report_tables import read_report
from tests.unit.readiness.test_report import resolved
from tests.unit.readiness.test_weekly import summaries as week_history

KEY = "readiness-report-test-key"
MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # week 49's digest is due


@pytest.fixture
def api(firebell, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    return firebell


def blobs(account, container: str) -> dict[str, bytes]:
    client = account.blob_service.get_container_client(container)
    try:
        return {blob.name: client.download_blob(blob.name).readall() for blob in client.list_blobs()}
    except ResourceNotFoundError:
        return {}


def fired(days_ago: int) -> str:
    return (utc_now() - timedelta(days=days_ago)).replace(microsecond=0, tzinfo=None).isoformat(timespec="minutes")


def test_the_report_needs_the_key_lives_in_the_private_container_and_shows_the_stored_figures(api, storage_account):
    from functions.readiness_report import hourly

    store = ReadinessStore(storage_account)
    store.save(resolved(1, fired(40), 2, 10, 20, paged=[("Tim Jones", 1)]))
    store.save(resolved(2, fired(20), 6, 30, 40, service="build-agents"))
    for offered in ({}, {"x-functions-key": "wrong"}):
        refused = requests.get(f"{api}/readiness/report", headers=offered, timeout=30)
        assert refused.status_code == 401 and b"<html" not in refused.content
    assert blobs(storage_account, CONTAINER) == {}  # a refused request renders nothing

    answer = requests.get(f"{api}/readiness/report", headers={"x-functions-key": KEY}, timeout=60)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    tables = read_report(answer.text).tables
    assert tables["summary"].rows[1:4] == [
        ["Incidents resolved", "2"],
        ["Reported by a customer first", "0 (0.0 %)"],
        ["Pages", "1"],
    ]
    assert tables["response"].rows[2] == ["Acknowledge", "2", "4", "6"]  # 2 and 6 minutes
    assert tables["cost-data"].rows == [["Service", "Cost"], ["checkout", "2,500.00"], ["build-agents", "150.00"]]
    assert [row[:2] for row in tables["compliance"].rows[1:]] == [["payments", "yes"], ["platform", "yes"]]
    assert [row[0] for row in tables["fairness"].rows[1:]] == ["payments", "platform"]

    # Kept in the private container, byte for byte what was served; nothing was written to the public site.
    assert blobs(storage_account, CONTAINER) == {BLOB: answer.content}
    assert blobs(storage_account, "$web") == {}

    # Served from storage until the hourly render: a newer incident shows after it, not before.
    store.save(resolved(3, fired(10), 1, 5, 5))
    again = requests.get(f"{api}/readiness/report", headers={"x-functions-key": KEY}, timeout=30)
    assert again.content == answer.content
    hourly(None)
    renewed = requests.get(f"{api}/readiness/report", headers={"x-functions-key": KEY}, timeout=30)
    assert read_report(renewed.text).tables["summary"].rows[1] == ["Incidents resolved", "3"]
    assert blobs(storage_account, "$web") == {} and list(blobs(storage_account, CONTAINER)) == [BLOB]


@pytest.fixture
def workflow():
    with WorkflowServer() as server:
        yield server


@pytest.fixture
def seeded(storage_account) -> ReadinessStore:
    store = ReadinessStore(storage_account)
    for summary in week_history():
        store.save(summary)
    return store


def tick(store, storage_account, url: str | None, now: datetime, instance: str) -> str:
    ledger = EscalationLedger(storage_account)
    return send_weekly_digest(now, store, ledger, WorkflowSender(), url, instance)


def test_the_digest_is_sent_once_however_often_and_wherever_the_timer_fires(seeded, storage_account, workflow):
    assert tick(seeded, storage_account, workflow.url, MONDAY - timedelta(minutes=1), "a") == NOT_DUE
    # Two instances fire at once, each twice (the timer doubled): one sends, the others find it held or sent.
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def fire(instance: str) -> None:
        start.wait()
        outcomes.append(tick(seeded, storage_account, workflow.url, MONDAY, instance))

    threads = [threading.Thread(target=fire, args=(name,)) for name in ("a", "b", "c", "d")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes).count(SENT) == 1 and set(outcomes) <= {SENT, HELD, ALREADY_SENT}
    # Redeliveries later that day and later that week, on any instance.
    for later, instance in ((timedelta(minutes=1), "a"), (timedelta(hours=1), "e"), (timedelta(days=3), "f")):
        assert tick(seeded, storage_account, workflow.url, MONDAY + later, instance) == ALREADY_SENT
    (card,) = workflow.delivered()
    facts = {fact["title"]: fact["value"] for fact in card.card["body"][2]["facts"]}
    assert card.card["body"][0]["text"] == "Readiness, week 2026-W49 (30 Nov – 06 Dec 2026)"
    assert (facts["Incidents"], facts["Median time to acknowledge"]) == ("3 (+1 from 2)", "3 min (−3 min from 6 min)")
    assert EscalationLedger(storage_account).sent(LEDGER, "weekly-2026-W49")
    # The next week is its own digest.
    assert tick(seeded, storage_account, workflow.url, MONDAY + timedelta(days=7), "a") == SENT
    headings = [r.card["body"][0]["text"][:24] for r in workflow.delivered()]
    assert headings == ["Readiness, week 2026-W49", "Readiness, week 2026-W50"]


def test_a_failed_post_is_not_recorded_and_a_later_tick_sends_it(seeded, storage_account, workflow):
    workflow.down(status=503)
    with pytest.raises(WorkflowError):
        tick(seeded, storage_account, workflow.url, MONDAY, "a")
    assert workflow.delivered() == [] and not EscalationLedger(storage_account).sent(LEDGER, "weekly-2026-W49")
    workflow.up()
    # Another instance waits out the failed tick's lease (5 minutes), then sends.
    assert tick(seeded, storage_account, workflow.url, MONDAY + timedelta(minutes=1), "b") == HELD
    assert tick(seeded, storage_account, workflow.url, MONDAY + timedelta(hours=1), "b") == SENT
    assert len(workflow.delivered()) == 1


def test_without_a_workflow_url_nothing_is_recorded_so_configuring_one_sends_the_week(
    seeded, storage_account, workflow
):
    assert tick(seeded, storage_account, None, MONDAY, "a") == NOT_CONFIGURED
    assert tick(seeded, storage_account, workflow.url, MONDAY + timedelta(hours=1), "a") == SENT
    assert len(workflow.delivered()) == 1


def test_the_timer_function_uses_the_settings_workflow(seeded, storage_account, workflow, monkeypatch):
    """Through the trigger (real clock): whatever the week, two invocations send its digest once."""
    from functions.readiness_report import weekly_digest

    monkeypatch.setenv("TEAMS_WORKFLOW_URL", workflow.url)
    context.reset()
    now = utc_now()
    weekly_digest(None)
    weekly_digest(None)
    # On a Monday before 09:00 UTC last week's digest is not due yet: none then, else exactly one.
    assert len(workflow.delivered()) == (1 if due(last_week(now), now) else 0)


DIGEST_TICK = """
import os, sys, time
from datetime import UTC, datetime
from shared.core import storage, telemetry
from shared.notifications.ledger import EscalationLedger
from shared.readiness.store import ReadinessStore
from shared.readiness.weekly_digest import send_weekly_digest
from shared.teams.workflow import WorkflowSender

account = storage.account()
now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
print(send_weekly_digest(now, ReadinessStore(account), EscalationLedger(account), WorkflowSender(), None, "subprocess"))
loaded = sorted({name.split(".")[0] + "." + name.split(".")[1] for name in sys.modules
                 if name.startswith(("opentelemetry.", "azure.monitor."))})
print(",".join(loaded) or "nothing")
if os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
    telemetry.start()  # after the invocation, as functions.observed does
    while telemetry._state.meter is None and not telemetry._state.failed:
        time.sleep(0.05)
    from opentelemetry import metrics
    metrics.get_meter_provider().force_flush()
"""


def run_tick(environment: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", DIGEST_TICK], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


def test_last_weeks_figures_reach_application_insights_as_gauges_and_nothing_loads_without_it(seeded):
    base = {key: value for key, value in os.environ.items() if not key.startswith("APPLICATIONINSIGHTS")}
    # Without a connection string nothing of OpenTelemetry or the distro is imported (cold start).
    assert run_tick(base) == [NOT_CONFIGURED.split()[0], NOT_CONFIGURED.split()[1], "nothing"]
    with IngestionServer() as ingestion:
        environment = {
            **base,
            "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string(),
            "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        }
        assert run_tick(environment)[:2] == NOT_CONFIGURED.split()
        points = [e["data"]["baseData"] for e in ingestion.envelopes("MetricData")]
    exported = {
        (point["metrics"][0]["name"], tuple(sorted(point["properties"].items()))): point["metrics"][0]["value"]
        for point in points
        if point["metrics"][0]["name"].startswith("firebell.readiness.")
    }
    week = ("week", "2026-W49")
    assert exported == {
        (telemetry.READINESS_INCIDENTS, (week,)): 3,
        (telemetry.READINESS_RESPONSE, (("duration", "acknowledge"), week)): 180,
        (telemetry.READINESS_RESPONSE, (("duration", "mitigate"), week)): 360,
        (telemetry.READINESS_RESPONSE, (("duration", "resolve"), week)): 720,
        (telemetry.READINESS_PAGES, (("period", "all"), week)): 1,
        (telemetry.READINESS_PAGES, (("period", "sleep_hours"), week)): 0,
        (telemetry.READINESS_COST, (week,)): 2900,
        (telemetry.READINESS_CUSTOMER_FIRST, (week,)): 1,
        (telemetry.READINESS_FOLLOW_UPS, (week,)): 0,
    }
