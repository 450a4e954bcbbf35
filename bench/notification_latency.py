"""Alert → card latency: from POST /api/alerts to the on-call responder's paged card arriving at Teams Workflows.

The devhost runs the real app over Azurite; a local Workflows stand-in records each card's arrival. Each alert opens
its own incident (service build-agents groups by rule; every alert has its own rule), so every one is paged: the
alerts function announces the change on `notifications`, whose function runs escalation step 0 and posts the card.
Alerts are paced so that each finds the queue listener backed off to host.json's maxPollingInterval, as a real first
alert after a quiet spell does: the wait for the next poll (up to that interval), not the work, dominates.
Target: p95 < 2 s.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from bench.figures import latency_rows, report
from devhost.azurite import ROOT, Azurite
from devhost.hostjson import load_host_options
from devhost.process import DevhostProcess
from tests.standins.workflow_server import WorkflowServer

ALERTS = 30
# Between alerts: a listener that found work polls again after 0.1 s, doubling up to maxPollingInterval (0.1 + 0.2
# + 0.4 + 0.8 + 1.6 s); 3.2 s later it has backed off to the maximum, as for a first alert after a quiet spell.
PACE_SECONDS = 3.2
TARGET_P95 = 2.0
KEY = "bench-key"
SAMPLE = ROOT / "samples" / "azure-monitor" / "59_test_action_metric_static_threshold.json"
# One responder always on call for the platform roster (build-agents' owner); the default escalation policy.
ONCALL = """
[[roster]]
id = "payments"
  [[roster.layer]]
  name = "primary"
    [[roster.layer.rotation]]
    name = "all week"
    kind = "weekly"
    members = ["Tim Jones"]
    handoff_weekday = "monday"
    handoff_time = "09:00"
    start = 2026-01-05

[[roster]]
id = "platform"
  [[roster.layer]]
  name = "primary"
    [[roster.layer.rotation]]
    name = "all week"
    kind = "weekly"
    members = ["Aiko Tanaka"]
    handoff_weekday = "monday"
    handoff_time = "09:00"
    start = 2026-01-05
"""


def _config(folder: Path) -> Path:
    for name in ("services.toml", "people.toml", "escalations.toml"):
        shutil.copy(ROOT / "config" / name, folder / name)
    (folder / "oncall.toml").write_text(ONCALL, encoding="utf-8")
    return folder


def _alert(number: int) -> bytes:
    document = json.loads(SAMPLE.read_text(encoding="utf-8"))
    essentials = document["data"]["essentials"]
    essentials.update(alertId=f"bench-{number}", alertRule=f"bench-rule-{number}", severity="Sev1")
    document["data"]["customProperties"] = {"service": "build-agents"}
    return json.dumps(document).encode()


def _incident_of(card: dict) -> str:
    factset = next(item for item in card["body"] if item["type"] == "FactSet")
    return next(fact["value"] for fact in factset["facts"] if fact["title"] == "Incident")


def send_paced(
    url: str, alerts: int, pace: float, polling: float, wait_for: Callable[..., object], failures: list[str]
) -> dict[str, float]:
    """`alerts` alerts, each opening its own incident, `pace` s apart plus a random part of the poll cycle; after each,
    wait until the stand-in (`wait_for(count, timeout=)`) has that many. The monotonic send time by incident; what
    went wrong is added to `failures`."""
    session = requests.Session()
    sent: dict[str, float] = {}
    for number in range(alerts):
        time.sleep(pace + random.uniform(0, polling))  # land anywhere in the listeners' poll cycle
        started = time.monotonic()
        answer = session.post(f"{url}/api/alerts?code={KEY}", data=_alert(number), timeout=30)
        if answer.status_code != 202 or answer.json().get("outcome") != "opened":
            failures.append(f"alert {number}: HTTP {answer.status_code} {answer.text[:100]}")
            continue
        sent[answer.json()["incident"]] = started
        try:
            wait_for(len(sent), timeout=30)
        except AssertionError as missing:
            failures.append(f"alert {number}: {missing}")
            break
    return sent


def main() -> None:
    polling = load_host_options(ROOT / "host.json").queues.max_polling_interval
    latencies: list[float] = []
    failures: list[str] = []
    with (
        tempfile.TemporaryDirectory() as folder,
        Azurite() as storage,
        WorkflowServer() as workflow,
        DevhostProcess(
            storage.connection_string,
            {
                "FIREBELL_FUNCTION_KEY": KEY,
                "FIREBELL_CONFIG_DIR": str(_config(Path(folder))),
                "TEAMS_WORKFLOW_URL": workflow.url,
                "STATUS_PAGE_URL": "http://127.0.0.1/status/",
            },
        ) as host,
    ):
        sent = send_paced(host.url, ALERTS, PACE_SECONDS, polling, workflow.wait_for, failures)
        for received in workflow.delivered():
            incident = _incident_of(received.card)
            if incident in sent:
                latencies.append(received.arrived - sent[incident])
    if not latencies:
        raise SystemExit(f"notification benchmark: no card arrived ({failures[:3]})")
    report(
        f"Alert → paged card through the devhost ({ALERTS} alerts, {PACE_SECONDS:.1f}+ s apart, Azurite, "
        f"Workflows stand-in; maxPollingInterval {polling:.0f} s)",
        [
            ("cards received", f"{len(latencies)} of {ALERTS}"),
            *latency_rows(latencies, TARGET_P95),
        ],
    )
    if failures:
        raise SystemExit(f"notification benchmark: {len(failures)} alerts failed: {failures[:3]}")


if __name__ == "__main__":
    main()
