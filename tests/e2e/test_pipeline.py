"""End to end: `python -m devhost` as a subprocess, driven over HTTP like Azure Monitor and a browser would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from devhost.azurite import Azurite, free_port
from devhost.process import DevhostProcess
from shared.statuspage.public_ids import public_id
from tests.conftest import ROOT, sample_bytes, wait_until

KEY = "e2e-key"
ID_KEY = "e2e-status-page-id-key"
SAMPLE = "59_test_action_metric_static_threshold.json"


def post_alert(host: DevhostProcess, body: bytes, key: str | None = KEY) -> requests.Response:
    headers = {"Content-Type": "application/json", **({"x-functions-key": key} if key else {})}
    return requests.post(f"{host.url}/api/alerts", data=body, headers=headers, timeout=30)


def start_devhost(connection_string: str) -> DevhostProcess:
    return DevhostProcess(
        connection_string,
        {
            "FIREBELL_FUNCTION_KEY": KEY,
            "FIREBELL_CONFIG_DIR": str(ROOT / "config"),
            "STATUS_PAGE_TITLE": "Acme Status",
            "STATUS_PAGE_ID_KEY": ID_KEY,
        },
    ).start()


@pytest.fixture
def devhost(storage_account, azurite) -> Iterator[DevhostProcess]:
    with start_devhost(azurite.connection_string) as host:
        yield host


def test_an_alert_becomes_an_incident_on_the_public_status_page(devhost):
    # Sev0 is a SEV1, public at once (config/services.toml [publication]); the sample says Sev4, a SEV4 that only a
    # public update would publish.
    sev0 = sample_bytes(SAMPLE).replace(b'"severity": "Sev4"', b'"severity": "Sev0"')
    public = public_id("INC-1", ID_KEY.encode())
    first = post_alert(devhost, sev0)
    assert (first.status_code, first.json()) == (
        202,
        {
            "incident": "INC-1",
            "alert": "12345678-1234-1234-1234-1234567890ab",
            "deduplicated": False,
            "outcome": "opened",
        },
    )
    again = post_alert(devhost, sev0)
    assert (again.status_code, again.json()["incident"], again.json()["deduplicated"]) == (202, "INC-1", True)

    def published() -> requests.Response | None:
        page = requests.get(f"{devhost.url}/status/", timeout=10)
        return page if page.status_code == 200 and public in page.text else None

    page = wait_until(published, timeout=20)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert f'<a href="incidents/{public}.html">Issue affecting Checkout</a>' in page.text and "INC-" not in page.text
    assert "Investigating" in page.text
    for internal in ("test-metricAlertRule", "Alertruledescription", "test-storageAccount", "/subscriptions/"):
        assert internal not in page.text
    detail = requests.get(f"{devhost.url}/status/incidents/{public}.html", timeout=10)
    assert detail.status_code == 200 and "We are investigating an issue affecting Checkout." in detail.text


def test_bad_input_is_answered_clearly_and_stores_nothing(devhost, storage_account):
    not_json = post_alert(devhost, b"{not json")
    assert not_json.status_code == 400
    assert not_json.json()["error"] == "invalid_json" and "not valid JSON" in not_json.json()["detail"]
    assert post_alert(devhost, sample_bytes(SAMPLE), key=None).status_code == 401
    assert post_alert(devhost, sample_bytes(SAMPLE), key="forged").status_code == 401
    too_big = post_alert(devhost, b"{" + b" " * (256 * 1024) + b"}")
    assert too_big.status_code == 413 and too_big.json()["error"] == "payload_too_large"
    assert list(storage_account.table("alerts").list_entities()) == []
    assert list(storage_account.table("incidents").list_entities()) == []


def test_health_says_one_word_anonymously_and_the_details_behind_the_key(devhost):
    anonymous = requests.get(f"{devhost.url}/api/health", timeout=10)
    assert (anonymous.status_code, anonymous.json()) == (200, {"status": "healthy"})
    assert requests.get(f"{devhost.url}/api/health/details", timeout=10).status_code == 401
    health = requests.get(f"{devhost.url}/api/health/details", headers={"x-functions-key": KEY}, timeout=10)
    assert (health.status_code, health.json()) == (
        200,
        {
            "status": "healthy",
            "storage": "reachable",
            "secure_webhook": "off",
            "configuration": "valid",
            "boards": "not configured",
            "boards_service_hook": "not configured",
            "notifications": "not configured",
            "channels": "not configured",
            "sms": "not configured",
            "oncall": "ok",
            "warnings": [],
            "poison_messages": 0,
            "unsent_changes": 0,
        },
    )


def test_when_storage_goes_away_alerts_get_503_so_azure_monitor_retries():
    with Azurite() as own_storage:
        host = start_devhost(own_storage.connection_string)
        try:
            own_storage.stop(grace=3)
            response = post_alert(host, sample_bytes(SAMPLE))
            assert (response.status_code, response.json()["error"]) == (503, "storage_unavailable")
            # The details check storage at every call; the anonymous verdict follows within health.CACHE_SECONDS.
            health = requests.get(f"{host.url}/api/health/details", headers={"x-functions-key": KEY}, timeout=30)
            assert health.status_code == 503 and health.json()["storage"].startswith("unreachable")
        finally:
            host.stop()


def test_the_devhost_says_clearly_when_storage_is_unreachable_at_start():
    dead = f"http://127.0.0.1:{free_port()}/devstoreaccount1"
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint={dead};QueueEndpoint={dead};TableEndpoint={dead};"
    )
    result = subprocess.run(
        [sys.executable, "-m", "devhost", "--port", str(free_port()), "--settings", "/nonexistent"],
        cwd=ROOT,
        env={**os.environ, "AzureWebJobsStorage": connection},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot reach Azure Storage" in result.stderr and "make run" in result.stderr


def test_ctrl_c_stops_the_devhost_cleanly(storage_account, azurite):
    host = start_devhost(azurite.connection_string)
    started = time.monotonic()
    output = host.stop()
    assert host.process.returncode == 0, output
    assert time.monotonic() - started < 15
    assert "Stopping" in output
