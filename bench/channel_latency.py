"""Incident opened → its Teams channel created and the first card posted in it, through the devhost.

The devhost runs the real app over Azurite; Microsoft Graph (with its Entra token endpoint, HTTPS) and the channel's
Workflows flow are local stand-ins. Each `POST /api/incidents` declares a SEV2 incident: the incidents function
announces it on `notifications`, which forwards it to `channels`, whose function takes a Graph token (client
credentials, first time only), looks the channel's name up, creates it, records it and posts the first card into
it. The clock runs from the POST to the card's arrival at the flow stand-in. Declarations are paced so that each
finds the queue listeners backed off to host.json's maxPollingInterval, as after a quiet spell: two queue hops,
each waiting for its next poll, dominate. Target: p95 < 3 s.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

import requests

from bench.figures import latency_rows, report
from devhost.azurite import ROOT, Azurite
from devhost.hostjson import load_host_options
from devhost.process import DevhostProcess
from tests.standins.entra_tokens import self_signed_certificate
from tests.standins.graph_server import GraphServer
from tests.standins.workflow_server import WorkflowServer

INCIDENTS = 20
PACE_SECONDS = 3.2  # as bench/notification_latency.py: the listeners back off to their longest poll between
TARGET_P95 = 3.0
KEY = "bench-key"


def _config(folder: Path) -> Path:
    for name in ("services.toml", "people.toml", "escalations.toml", "oncall.toml"):
        shutil.copy(ROOT / "config" / name, folder / name)
    return folder


def main() -> None:
    polling = load_host_options(ROOT / "host.json").queues.max_polling_interval
    latencies: list[float] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        certificate = self_signed_certificate(Path(folder) / "tls")
        with (
            Azurite() as storage,
            GraphServer(certificate) as graph,
            WorkflowServer() as flow,
            DevhostProcess(
                storage.connection_string,
                {
                    "FIREBELL_FUNCTION_KEY": KEY,
                    "FIREBELL_CONFIG_DIR": str(_config(Path(folder))),
                    "STATUS_PAGE_URL": "http://127.0.0.1/status/",
                    "REQUESTS_CA_BUNDLE": str(certificate.ca_bundle),
                    "TEAMS_CHANNEL_WORKFLOW_URL": flow.url_for("incident-channel"),
                    **graph.settings(),
                },
            ) as host,
        ):
            session = requests.Session()
            sent: dict[str, float] = {}
            for number in range(INCIDENTS):
                time.sleep(PACE_SECONDS + random.uniform(0, polling))  # anywhere in the listeners' poll cycle
                body = {
                    "title": f"Checkout failing {number}",
                    "severity": 2,
                    "reporter": "Ana Souza",
                    "service": "checkout",
                }
                started = time.monotonic()
                answer = session.post(f"{host.url}/api/incidents?code={KEY}", json=body, timeout=30)
                if answer.status_code != 201:
                    failures.append(f"incident {number}: HTTP {answer.status_code} {answer.text[:100]}")
                    continue
                sent[answer.json()["id"]] = started
                try:
                    flow.wait_for(len(sent), timeout=30)
                except AssertionError as missing:
                    failures.append(f"incident {number}: {missing}")
                    break
            by_channel = {channel.id: channel.display_name.split()[0] for channel in graph.channels.values()}
            for received in flow.delivered("/workflows/incident-channel"):
                incident = by_channel.get(received.message.get("channelId"))
                if incident in sent:
                    latencies.append(received.arrived - sent[incident])
            channels = len(graph.channels)
    if not latencies:
        raise SystemExit(f"channel benchmark: no card arrived ({failures[:3]})")
    report(
        f"Incident opened → channel created and first card posted, through the devhost ({INCIDENTS} SEV2 "
        f"declarations, {PACE_SECONDS:.1f}+ s apart; Azurite, Graph and Workflows stand-ins; "
        f"maxPollingInterval {polling:.0f} s)",
        [
            ("channels created", f"{channels} of {INCIDENTS}"),
            ("first cards received", f"{len(latencies)} of {INCIDENTS}"),
            *latency_rows(latencies, TARGET_P95),
        ],
    )
    if failures:
        raise SystemExit(f"channel benchmark: {len(failures)} incidents failed: {failures[:3]}")


if __name__ == "__main__":
    main()
