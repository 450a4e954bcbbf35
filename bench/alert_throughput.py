"""Alerts → incidents through the devhost into Azurite: throughput and latency, then a correctness check."""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.figures import percentile, report
from devhost.azurite import ROOT, Azurite
from devhost.process import DevhostProcess
from shared.adapters.storage import StorageAccount

SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
CLIENTS = 8
KEY = "bench-key"
SAMPLE = ROOT / "samples" / "azure-monitor" / "59_test_action_metric_static_threshold.json"


def alert_body(template: dict, number: int) -> bytes:
    document = copy.deepcopy(template)
    essentials = document["data"]["essentials"]
    essentials["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/bench-{number:08d}"
    return json.dumps(document).encode()


def main() -> None:
    template = json.loads(SAMPLE.read_text())
    counter = iter(range(10**9))
    lock = threading.Lock()
    latencies: list[float] = []
    incidents: set[str] = set()
    failures: list[int] = []

    with (
        Azurite() as storage,
        DevhostProcess(
            storage.connection_string, {"FIREBELL_FUNCTION_KEY": KEY, "FIREBELL_CONFIG_DIR": str(ROOT / "config")}
        ) as host,
    ):
        deadline = time.monotonic() + SECONDS

        def client() -> None:
            session = requests.Session()
            url = f"{host.url}/api/alerts?code={KEY}"
            while time.monotonic() < deadline:
                with lock:
                    number = next(counter)
                body = alert_body(template, number)
                started = time.perf_counter()
                response = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == 202:
                        latencies.append(elapsed)
                        incidents.add(response.json()["incident"])
                    else:
                        failures.append(response.status_code)

        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            for _ in range(CLIENTS):
                pool.submit(client)
        duration = time.monotonic() - started
        stored = sum(
            1
            for _ in StorageAccount(storage.connection_string)
            .table("incidents")
            .query_entities("PartitionKey eq 'incident'")
        )

    report(
        f"Alert → incident through the devhost ({SECONDS:.0f} s, {CLIENTS} concurrent clients, Azurite)",
        [
            ("alerts accepted", f"{len(latencies)} ({len(failures)} failed)"),
            ("throughput", f"{len(latencies) / duration:.0f} alerts/s"),
            ("latency p50", f"{percentile(latencies, 0.50) * 1000:.1f} ms"),
            ("latency p99", f"{percentile(latencies, 0.99) * 1000:.1f} ms"),
            (
                "incidents stored",
                f"{stored} (expected {len(incidents)}: {'ok' if stored == len(incidents) else 'MISMATCH'})",
            ),
        ],
    )
    if failures or stored != len(incidents):
        raise SystemExit("alert benchmark found failed requests or lost incidents")


if __name__ == "__main__":
    main()
