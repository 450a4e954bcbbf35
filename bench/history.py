"""Per-event cost as history grows: 1,000, 10,000 and 100,000 incidents already stored, then one alert, one Teams
command, one reminders tick, `GET /api/incidents?status=open` and status page publishes, each counted on the wire
(storage requests, the stable figure) and timed (noisy on 2 busy cores).

The history is written straight into Azurite (100 incident rows a transaction, the id counter set after them), not
pushed through HTTP: resolved incidents one every two hours back from yesterday; one in a hundred is on the public
site (1,000 incident pages at 100,000: published once before the figures are taken), the others are SEV4 incidents
that never posted a public update. Five incidents are open, opened by alerts through the real intake. Each figure
is the median of SAMPLES events (PUBLISH_SAMPLES publishes). FIREBELL_BENCH_HISTORY=1000,10000 picks the sizes
(the default, up to 100,000, takes about a quarter of an hour: Azurite slows down as one partition grows).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.catalog import UNGROUPED_RULE, bench_catalog, write_config_dir
from bench.figures import median, report
from bench.storage_ops import NEW_UNGROUPED, Intake, RequestCounter
from devhost.azurite import Azurite
from shared.azure_monitor.alert import FIRED
from shared.chatops.grammar import parse_command
from shared.chatops.intake import handle
from shared.chatops.rules import Said
from shared.core.queues import NOTIFICATIONS
from shared.core.storage import StorageAccount
from shared.incidents.changes import change_message
from shared.incidents.incident import OPEN, Incident, status_filter
from shared.incidents.store import _counter_entity, _incident_entity, _open_complete
from shared.notifications import escalate
from shared.notifications.ledger import EscalationLedger
from shared.notifications.notifier import Notifier
from shared.statuspage.publisher import SitePublisher
from shared.statuspage.site_settings import SiteSettings
from shared.teams.workflow import RequestLimiter, WorkflowSender

SIZES = tuple(int(size) for size in os.environ.get("FIREBELL_BENCH_HISTORY", "1000,10000,100000").split(","))
SAMPLES = 5
PUBLISH_SAMPLES = 3  # the first publish before them renders the whole site (a minute at 100,000 in Azurite)
OPEN_INCIDENTS = 5
BATCH = 100  # rows per entity-group transaction (the service's limit)
INTERVAL = timedelta(hours=2)
PUBLIC_EVERY = 100
NOW = datetime.now(UTC)
EVENTS = (
    "alert (new incident)",
    "Teams command (update)",
    "Teams command (list)",
    "GET /api/incidents?status=open",
    "reminders tick",
    "status publish after a change",
    "first publish, new instance",
)


def _history_incident(number: int, count: int) -> Incident:
    """One incident every INTERVAL up to a day ago (a team's steady rate: more history is a longer past, the same
    90-day window); every PUBLIC_EVERY-th one a SEV2 the status page shows (acknowledged), the rest SEV4 that it
    does not (no public update)."""
    declared = NOW - timedelta(days=1) - INTERVAL * (count - number)
    public = number % PUBLIC_EVERY == 0
    return Incident(
        id=f"INC-{number}",
        number=number,
        title=f"{UNGROUPED_RULE}-history-{number}",
        service="storm",
        components=("Storm",),
        severity=2 if public else 4,
        status="resolved",
        source="monitoring",
        source_detail="Azure Monitor",
        detected_at=declared,
        declared_at=declared,
        updated_at=declared + timedelta(minutes=40),
        acknowledged_at=declared + timedelta(minutes=5),
        mitigated_at=declared + timedelta(minutes=30),
        resolved_at=declared + timedelta(minutes=40),
        version=4,
    )


def write_history(account: StorageAccount, count: int) -> float:
    """`count` resolved incidents, BATCH rows a transaction, then the id counter and the open index's mark (the
    index is complete: none of them is open). Returns the seconds it took."""
    began = time.perf_counter()
    table = account.table("incidents")
    for first in range(1, count + 1, BATCH):
        rows = [_incident_entity(_history_incident(n, count)) for n in range(first, min(first + BATCH, count + 1))]
        table.submit_transaction([("create", row) for row in rows])
    table.submit_transaction([("upsert", _counter_entity(count)), ("upsert", _open_complete())])
    return time.perf_counter() - began


class Measured:
    """Storage requests (all services) and seconds per event, by event name."""

    def __init__(self, counter: RequestCounter) -> None:
        self.counter = counter
        self.costs: dict[str, list[tuple[int, float]]] = {}

    def __call__(self, name: str, action: object) -> object:
        before = sum(self.counter.snapshot().values())
        began = time.perf_counter()
        result = action()  # type: ignore[operator]
        seconds = time.perf_counter() - began
        self.costs.setdefault(name, []).append((sum(self.counter.snapshot().values()) - before, seconds))
        return result

    def figure(self, name: str) -> tuple[float, float]:
        samples = self.costs[name]
        return median([ops for ops, _ in samples]), median([seconds for _, seconds in samples]) * 1000


def measure(count: int, config_dir: Path) -> tuple[Measured, float]:
    from functions import context

    with Azurite() as storage:
        blob, queue, table = storage.ports
        counter = RequestCounter({table: "table", queue: "queue", blob: "blob"})
        account = StorageAccount(storage.connection_string, on_request=counter)
        os.environ.update(AzureWebJobsStorage=storage.connection_string, FIREBELL_CONFIG_DIR=str(config_dir))
        context.reset()
        for name in ("incidents", "timeline", "alerts", "escalations"):
            account.table(name)
        for name in ("statuspage", NOTIFICATIONS):
            account.queue(name)
        account.container("$web")
        built = write_history(account, count)
        catalog = bench_catalog()
        intake = Intake(account, catalog, counter)
        notifier = Notifier(
            intake.store,
            EscalationLedger(account),
            WorkflowSender(RequestLimiter(), attempts=1, backoff_seconds=0.01),
            account,
            context.settings(),
            context.configuration(),
        )
        opened = [
            intake.deliver(None, f"open-{n}", f"{UNGROUPED_RULE}-open-{n}", FIRED).incident_id
            for n in range(OPEN_INCIDENTS)
        ]

        def site() -> SiteSettings:
            return SiteSettings("Bench Status", catalog, "https://status.example.com")

        publisher = SitePublisher(account, site)
        publisher.render_and_publish()  # the site as published before the events
        measured = Measured(counter)
        for sample in range(SAMPLES):
            measured(
                "alert (new incident)", lambda s=sample: intake.deliver(NEW_UNGROUPED, f"new-{s}", "storm-x", FIRED)
            )
            target = opened[sample % len(opened)]
            assert target is not None

            def command(text: str, s: int = sample) -> None:
                said = Said(text, "Priya Raman", datetime.now(UTC), f"bench-{count}-{s}-{text[:6]}")
                decision = handle(parse_command(text), said, intake.store, catalog, "https://status.example.com")
                acted = [event for event in decision.events if event.kind not in ("chat.message", "note")]
                if decision.incident_id and acted:  # as functions/teams.py announces a change
                    events = [event.event_id for event in acted]
                    account.queue(NOTIFICATIONS, encoding="none").send_message(
                        change_message(decision.incident_id, events)
                    )

            update = f"update {target} investigating Looking into it ({sample}). Next update in 30 min"
            measured("Teams command (update)", lambda u=update: command(u))
            measured("Teams command (list)", lambda: command("list"))
            measured("GET /api/incidents?status=open", lambda: intake.store.list_incidents(status_filter(OPEN)))
            measured("reminders tick", lambda: escalate.remind(datetime.now(UTC), notifier))
            if sample < PUBLISH_SAMPLES:
                measured("status publish after a change", publisher.render_and_publish)
                fresh = SitePublisher(account, site)
                measured("first publish, new instance", fresh.render_and_publish)
    return measured, built


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        config_dir = write_config_dir(Path(folder))
        results = {count: measure(count, config_dir) for count in SIZES}
    base = SIZES[0]
    rows = []
    for name in EVENTS:
        first_ops, _ = results[base][0].figure(name)
        cells = []
        for count in SIZES:
            ops, ms = results[count][0].figure(name)
            ratio = ops / first_ops if first_ops else float("inf")
            cells.append(f"{count:>7,}: {ops:5.0f} ops ×{ratio:4.2f} {ms:7.1f} ms")
        flat = all(results[c][0].figure(name)[0] <= 1.2 * first_ops for c in SIZES)
        rows.append((name, " | ".join(cells) + ("  flat" if flat else "  GROWS")))
    report(
        f"Per-event cost with history (storage requests and ms, median of {SAMPLES}, publishes {PUBLISH_SAMPLES}; "
        f"×: ops against {base:,}; "
        f"{OPEN_INCIDENTS} open incidents; time is noisy)",
        rows,
    )
    built = ", ".join(f"{count:,} in {results[count][1]:.0f} s" for count in SIZES)
    print(f"  history written in transactions of {BATCH}: {built}")


if __name__ == "__main__":
    main()
