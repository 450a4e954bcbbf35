"""The readiness report at 10,000 incidents: its render time, pure and end to end.

The history is 10,000 resolved incidents inside the report's twelve months (bench.metrics_query's generator, with
pages), so every one of them is in the report. Figures:
- render only: the page (view, SVG geometry, Jinja2) from figures already aggregated;
- figures and render: aggregating the 10,000 summaries, rotation compliance, the page — what the timer computes
  after reading storage;
- publish (Azurite): the hourly timer's whole work — the twelve month digests read and decoded, fairness over the
  rosters' shifts, the render, the blob written to the private container;
- GET /api/readiness/report through the devhost: serving the stored render.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import requests

from bench.figures import median, percentile, report
from bench.metrics_query import history, seed
from devhost.azurite import ROOT, Azurite
from devhost.process import DevhostProcess
from shared.core.storage import StorageAccount
from shared.oncall.compliance import compliance
from shared.oncall.people import load_directory
from shared.oncall.schedule import load_schedule
from shared.readiness.figures import aggregate
from shared.readiness.publication import publish_report
from shared.readiness.query import Readiness
from shared.readiness.report import render_report, report_view, report_window
from shared.readiness.report_store import ReportStore
from shared.readiness.store import ReadinessStore

INCIDENTS = 10_000
NOW = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
RUNS = 10
KEY = "bench-report-key"


def main() -> None:
    now = NOW
    window = report_window(now)
    summaries = history(random.Random(17), INCIDENTS, window.start, now - window.start)
    directory = load_directory(ROOT / "config")
    schedule = load_schedule(ROOT / "config", directory)

    figures = aggregate(summaries)
    found = Readiness(window, figures, None, {})
    checked = compliance(schedule, now)
    render_only, both = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        html = render_report(report_view(found, checked, now))
        render_only.append(time.perf_counter() - started)
        started = time.perf_counter()
        render_report(report_view(Readiness(window, aggregate(summaries), None, {}), compliance(schedule, now), now))
        both.append(time.perf_counter() - started)
    rows = [
        (f"render only ({INCIDENTS:,} incidents aggregated)", f"median {median(render_only) * 1000:.1f} ms"),
        ("figures and render (aggregate, compliance, page)", f"median {median(both) * 1000:.0f} ms"),
        ("page size", f"{len(html.encode()) / 1024:.0f} KB"),
    ]

    with Azurite() as storage:
        account = StorageAccount(storage.connection_string)
        seed(account, summaries)
        store, reports = ReadinessStore(account), ReportStore(account)
        overrides = lambda roster, start, end: ()  # noqa: E731 - no overrides in the benchmark's storage
        published = []
        for _ in range(RUNS):
            started = time.perf_counter()
            publish_report(store, reports, schedule, overrides, now)
            published.append(time.perf_counter() - started)
        first, published = published[0], published[1:]
        rows.append(("publish: first (decodes 12 month digests)", f"{first * 1000:.0f} ms"))
        rows.append(("publish: later (digests cached by ETag)", f"median {median(published) * 1000:.0f} ms"))
        environment = {"FIREBELL_CONFIG_DIR": str(ROOT / "config"), "FIREBELL_FUNCTION_KEY": KEY}
        with DevhostProcess(storage.connection_string, environment) as host:
            session = requests.Session()
            session.headers["x-functions-key"] = KEY
            latencies = []
            for _ in range(40):
                started = time.perf_counter()
                session.get(f"{host.url}/api/readiness/report", timeout=60).raise_for_status()
                latencies.append(time.perf_counter() - started)
            p50, p95 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.95) * 1000
            rows.append(("GET /api/readiness/report (stored render)", f"p50 {p50:.0f} ms, p95 {p95:.0f} ms"))
    report(f"Readiness report at {INCIDENTS:,} incidents in its twelve months (2 cores, noisy)", rows)


if __name__ == "__main__":
    main()
