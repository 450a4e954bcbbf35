"""GET /api/metrics over 10,000 incidents of history: summary rows in Azurite, queried through the devhost.

Two years of resolved incidents (10,000 summary rows, about 14 a day, with pages, and the 24 month digests a query
reads) are written to the `readiness` table as the readiness consumer leaves them; then GET /api/metrics is timed
for the windows people ask about: the default (the last 90 days), one service and severity over a year, and the
whole history. The issue's target is < 200 ms at 10,000 incidents. The first request of a window decodes the
digests of its months and tallies them (shared.readiness.tally); later ones read every digest again but find each
month tallied (an in-process cache checked against each digest's ETag on every request) and only combine the
tallies, as a dashboard's refreshes do.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import requests

from bench.figures import percentile, report
from devhost.azurite import ROOT, Azurite
from devhost.process import DevhostProcess
from shared.core.storage import StorageAccount
from shared.readiness.hours import PERIODS
from shared.readiness.store import READINESS, ReadinessStore, summary_row
from shared.readiness.summary import IncidentSummary, PageTally

INCIDENTS = 10_000
FIRST = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
NOW = FIRST + SPAN
REQUESTS = 40
KEY = "bench-metrics-key"
TARGET_MS = 200
SERVICES = ("checkout", "build-agents", "default")
PEOPLE = ("Tim Jones", "Larry Brown", "Priya Raman", "Grace Okafor", "Sofia García", "Aiko Tanaka", "Marcus Lee")
WHOLE = "whole history (10,000 incidents)"
WINDOWS = {
    "last 90 days (default window)": {"to": NOW.isoformat()},
    "one service and severity, one year": {
        "from": (NOW - timedelta(days=365)).isoformat(),
        "to": NOW.isoformat(),
        "service": "checkout",
        "severity": "2",
    },
    WHOLE: {"from": FIRST.isoformat(), "to": NOW.isoformat()},
}


def history(
    rng: random.Random, count: int = INCIDENTS, first: datetime = FIRST, span: timedelta = SPAN
) -> list[IncidentSummary]:
    """`count` resolved incidents spread evenly over [first, first + span)."""
    summaries = []
    for number in range(1, count + 1):
        declared = first + span * (number - 1) / count
        started = declared - timedelta(minutes=rng.randint(0, 30))
        acknowledged = declared + timedelta(minutes=rng.randint(1, 40))
        mitigated = acknowledged + timedelta(minutes=rng.randint(5, 240))
        pages = {
            (rng.choice(PEOPLE), "payments", rng.choice(PERIODS), rng.randrange(24)) for _ in range(rng.randint(0, 3))
        }
        summaries.append(
            IncidentSummary(
                incident_id=f"INC-{number}",
                service=rng.choice(SERVICES),
                severity=rng.randint(1, 4),
                source=rng.choice(("monitoring", "monitoring", "monitoring", "customer", "slo")),
                declared_at=declared,
                detected_at=declared,
                started_at=started,
                acknowledged_at=acknowledged,
                mitigated_at=mitigated,
                resolved_at=mitigated + timedelta(minutes=rng.randint(0, 120)),
                cost_per_minute=rng.choice((0.0, 5.0, 250.0)),
                pages=tuple(sorted(PageTally(*page, 1) for page in pages)),
                paged=tuple((page[0], declared + timedelta(minutes=rng.randint(0, 30))) for page in sorted(pages)),
                follow_ups=rng.randint(0, 3),
                updates_promised=(promised := rng.randint(0, 4)),
                updates_late=rng.randint(0, promised),
                version=rng.randint(3, 30),
                events=rng.randint(3, 60),
            )
        )
    return summaries


def seed(account: StorageAccount, summaries: list[IncidentSummary]) -> None:
    """The rows the readiness consumer writes, in transactions of 100 per month partition, then each month's
    digest built from them (the consumer keeps it up to date one incident at a time; seeding does it at once)."""
    by_month: dict[str, list[dict]] = defaultdict(list)
    for summary in summaries:
        by_month[summary.month].append(summary_row(summary))
    table = account.table(READINESS)
    for rows in by_month.values():
        for start in range(0, len(rows), 100):
            table.submit_transaction([("upsert", row) for row in rows[start : start + 100]])
    store = ReadinessStore(account)
    for month in by_month:
        store.rebuild(month)


def main() -> None:
    summaries = history(random.Random(17))
    with Azurite() as storage:
        began = time.perf_counter()
        seed(StorageAccount(storage.connection_string), summaries)
        seeded = time.perf_counter() - began
        environment = {"FIREBELL_CONFIG_DIR": str(ROOT / "config"), "FIREBELL_FUNCTION_KEY": KEY}
        with DevhostProcess(storage.connection_string, environment) as host:
            session = requests.Session()
            session.headers["x-functions-key"] = KEY
            rows = [(f"{INCIDENTS:,} summary rows written", f"{seeded:.1f} s (batched, seeding only)")]
            session.get(f"{host.url}/api/metrics", params={"to": FIRST.isoformat()}, timeout=60).raise_for_status()
            for name, params in WINDOWS.items():
                latencies, counted = [], 0
                for _ in range(REQUESTS + 1):
                    started = time.perf_counter()
                    answer = session.get(f"{host.url}/api/metrics", params=params, timeout=60)
                    elapsed = time.perf_counter() - started
                    answer.raise_for_status()
                    counted = answer.json()["incidents"]
                    latencies.append(elapsed)
                first, latencies = latencies[0] * 1000, latencies[1:]
                p50, p95 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.95) * 1000
                verdict = "met" if p95 < TARGET_MS else "NOT MET"
                rows.append((f"{name}: {counted:,} incidents", f"p50 {p50:.0f} ms, p95 {p95:.0f} ms — {verdict}"))
                rows.append(("  first request (decodes and tallies its months' digests)", f"{first:.0f} ms"))
        # A new instance (nothing decoded yet) asked for the whole history straight away.
        with DevhostProcess(storage.connection_string, environment) as host:
            session = requests.Session()
            session.headers["x-functions-key"] = KEY
            session.get(f"{host.url}/api/metrics", params={"to": FIRST.isoformat()}, timeout=60).raise_for_status()
            started = time.perf_counter()
            session.get(f"{host.url}/api/metrics", params=WINDOWS[WHOLE], timeout=60).raise_for_status()
            rows.append(
                (f"{WHOLE} on a new instance, first request", f"{(time.perf_counter() - started) * 1000:.0f} ms")
            )
    report(f"GET /api/metrics over {INCIDENTS:,} incidents of history (devhost, Azurite; target < 200 ms)", rows)


if __name__ == "__main__":
    main()
