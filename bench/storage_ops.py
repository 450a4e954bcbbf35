"""Storage operations per alert intake outcome, counted on the wire by an azure-core pipeline policy.

In-process against Azurite: the same receive_alert the HTTP function calls, plus the status page queue message the
function sends when a delivery changed something, so each figure is what one POST /api/alerts costs in storage.
Then what the Workflows request budget shared by all instances (shared.teams.budget) costs per card, against the
per-process limiter it replaced (no storage at all), posting to the Workflows stand-in.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bench.catalog import UNGROUPED_RULE, bench_catalog, grouped_rule
from bench.figures import report
from devhost.azurite import ROOT, Azurite
from shared.azure_monitor.alert import FIRED, RESOLVED, parse_alert
from shared.catalog.services import Catalog
from shared.core.queues import NOTIFICATIONS, STATUSPAGE
from shared.core.storage import StorageAccount
from shared.incidents.alert_intake import AlertIntake, receive_alert
from shared.incidents.changes import change_message
from shared.incidents.store import IncidentStore

SAMPLE = ROOT / "samples" / "azure-monitor" / "59_test_action_metric_static_threshold.json"
SAMPLES = 20
TARGETS = {"new incident": 6, "duplicate": 3}  # issue 3: storage operations per delivery, at most

# Outcome label → (the intake outcome it must have, the target it is held to). Checked on every sample, so a label
# never names a path the code did not take.
NEW_UNGROUPED = "new incident, ungrouped service"
NEW_GROUPED = "new incident, service grouping (first alert)"
JOINED = "new alert joins an open incident"
DUPLICATE = "duplicate (repeated 'Fired'), in the process that finished it"
DUPLICATE_ELSEWHERE = "duplicate (repeated 'Fired'), on another instance"
RESOLVE_PARTIAL = "resolve, other alerts still firing"
RESOLVE_LAST = "resolution (last alert of the incident)"
RESOLVE_REPEAT = "repeated 'Resolved'"
EXPECTED = {
    NEW_UNGROUPED: ("opened", TARGETS["new incident"]),
    NEW_GROUPED: ("opened", TARGETS["new incident"]),
    JOINED: ("joined", None),
    DUPLICATE: ("duplicate", TARGETS["duplicate"]),
    DUPLICATE_ELSEWHERE: ("duplicate", TARGETS["duplicate"]),
    RESOLVE_PARTIAL: ("resolved", None),
    RESOLVE_LAST: ("resolved", None),
    RESOLVE_REPEAT: ("resolved", None),
}


class RequestCounter:
    """An azure-core raw_request_hook: called for every request sent, retries included (it runs after the retry
    policy), and tallied per storage service by the request's port."""

    def __init__(self, services: dict[int, str]) -> None:
        self.services = services
        self.counts: dict[str, int] = defaultdict(int)

    def __call__(self, request: Any) -> None:
        port = urlsplit(request.http_request.url).port or 0
        self.counts[self.services.get(port, "other")] += 1

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)


class Intake:
    """receive_alert plus what the HTTP function adds (one message: to notifications when the delivery changed
    the incident, else to the status page), with the storage requests each delivery made."""

    def __init__(self, account: StorageAccount, catalog: Catalog, counter: RequestCounter) -> None:
        self.store = IncidentStore(account)
        self.elsewhere = IncidentStore(account)  # another instance: its own memory of finished firings
        self.catalog = catalog
        self.counter = counter
        self.statuspage, self.notifications = (
            account.queue(name, encoding="none") for name in (STATUSPAGE, NOTIFICATIONS)
        )
        self.costs: dict[str, list[tuple[int, int]]] = defaultdict(list)  # label → (table, queue) per delivery
        self.template = json.loads(SAMPLE.read_text())

    def deliver(
        self, label: str | None, key: str, rule: str, condition: str, *, elsewhere: bool = False
    ) -> AlertIntake:
        document = copy.deepcopy(self.template)
        essentials = document["data"]["essentials"]
        essentials.update(alertId=f"/subscriptions/s/alerts/{key}", alertRule=rule, monitorCondition=condition)
        if condition == RESOLVED:
            essentials["resolvedDateTime"] = "2025-04-15T18:27:12.851Z"
        alert = parse_alert(json.dumps(document).encode())
        before = self.counter.snapshot()
        store = self.elsewhere if elsewhere else self.store
        intake = receive_alert(alert, self.catalog, store, datetime.now(UTC))
        if intake.event_ids and intake.incident_id is not None:  # as functions/alerts.py does: one message
            queue = self.notifications if intake.changed_incident else self.statuspage
            queue.send_message(change_message(intake.incident_id, intake.event_ids))
        after = self.counter.snapshot()
        if label is not None:
            expected = EXPECTED[label][0]
            if intake.outcome != expected:
                raise SystemExit(f"storage_ops: {label!r} expected outcome {expected!r}, got {intake.outcome!r}")
            used = {service: after.get(service, 0) - before.get(service, 0) for service in ("table", "queue")}
            self.costs[label].append((used["table"], used["queue"]))
        return intake


def main() -> None:
    with Azurite() as storage:
        blob, queue, table = storage.ports
        counter = RequestCounter({table: "table", queue: "queue", blob: "blob"})
        account = StorageAccount(storage.connection_string, on_request=counter)
        intake = Intake(account, bench_catalog(grouped_services=SAMPLES), counter)
        for name in ("incidents", "timeline", "alerts"):
            account.table(name)  # created once per process; not part of any alert's cost
        # Warm-up: the store reads the incident-number counter once per process, then keeps its ETag.
        intake.deliver(None, "warm-up", f"{UNGROUPED_RULE}-warm-up", FIRED)
        for number in range(SAMPLES):
            alone, first, second = f"ops-{number}", f"ops-{number}-a", f"ops-{number}-b"
            rule = grouped_rule(number)
            intake.deliver(NEW_UNGROUPED, alone, f"{UNGROUPED_RULE}-{number}", FIRED)
            intake.deliver(DUPLICATE, alone, f"{UNGROUPED_RULE}-{number}", FIRED)
            intake.deliver(DUPLICATE_ELSEWHERE, alone, f"{UNGROUPED_RULE}-{number}", FIRED, elsewhere=True)
            intake.deliver(NEW_GROUPED, first, rule, FIRED)
            intake.deliver(JOINED, second, rule, FIRED)
            intake.deliver(DUPLICATE, second, rule, FIRED)
            intake.deliver(RESOLVE_PARTIAL, first, rule, RESOLVED)
            intake.deliver(RESOLVE_LAST, second, rule, RESOLVED)
            intake.deliver(RESOLVE_LAST, alone, f"{UNGROUPED_RULE}-{number}", RESOLVED)
            intake.deliver(RESOLVE_REPEAT, alone, f"{UNGROUPED_RULE}-{number}", RESOLVED)

    rows: list[tuple[str, str]] = []
    missed: list[str] = []
    for label, (_, target) in EXPECTED.items():
        costs = intake.costs[label]
        totals = [table + queue for table, queue in costs]
        average, worst = sum(totals) / len(totals), max(totals)
        tables = sum(table for table, _ in costs) / len(costs)
        queues = sum(queue for _, queue in costs) / len(costs)
        verdict = ""
        if target is not None:
            verdict = f" — {'met' if worst <= target else 'NOT MET'}"
            if worst > target:
                missed.append(label)
        name = f"{label} (target ≤ {target})" if target is not None else label
        rows.append(
            (name, f"{average:.2f} (max {worst}) = {tables:.2f} table + {queues:.2f} queue, n={len(costs)}{verdict}")
        )
    report(
        f"Storage operations per alert delivery, counted on the wire ({SAMPLES} samples each; "
        "the one change message included; tables created and id counter read beforehand)",
        rows,
    )
    if missed:
        print(f"  storage operation targets not met: {', '.join(missed)}")
    with Azurite() as storage:
        rows = card_costs(storage)
    report(
        f"Table operations per Teams card for the Workflows rate budget ({CARDS} cards each, one after another; the "
        "card ledger's own operations are not included and unchanged)",
        rows,
    )


CARDS = 20


def card_costs(storage: Azurite) -> list[tuple[str, str]]:
    """Table operations per card posted: one instance alone, and two instances taking turns (each finds the row
    changed by the other since its last write)."""
    from shared.notifications.cards import encode
    from shared.teams.budget import WEBHOOK_BUDGETS, WebhookBudget
    from shared.teams.workflow import RequestLimiter, WorkflowSender
    from tests.standins.workflow_server import WorkflowServer

    blob, queue, table = storage.ports
    counter = RequestCounter({table: "table", queue: "queue", blob: "blob"})
    account = StorageAccount(storage.connection_string, on_request=counter)
    account.table(WEBHOOK_BUDGETS)  # created once per process
    body = encode({"type": "message", "attachments": [{"contentType": CARD, "content": {"type": "AdaptiveCard"}}]})

    def per_card(senders: list[WorkflowSender], url: str) -> list[int]:
        used = []
        for number in range(CARDS):
            before = counter.snapshot().get("table", 0)
            senders[number % len(senders)].post(url, body)
            used.append(counter.snapshot().get("table", 0) - before)
        return used

    def budget() -> WorkflowSender:
        return WorkflowSender(WebhookBudget(lambda: account), attempts=1)

    with WorkflowServer() as workflow:
        rows = []
        for label, senders, channel in (
            ("per-process limiter (before)", [WorkflowSender(RequestLimiter(), attempts=1)], "before"),
            ("shared budget, one instance", [budget()], "one"),
            ("shared budget, two instances taking turns", [budget(), budget()], "two"),
        ):
            used = per_card(senders, workflow.url_for(channel))
            first, rest = used[: len(senders)], used[len(senders) :]
            rows.append(
                (label, f"first card per instance {max(first)}, then {sum(rest) / len(rest):.2f} (max {max(rest)})")
            )
        if len(workflow.requests()) != 3 * CARDS:
            raise SystemExit(f"storage_ops: {len(workflow.requests())} requests reached the stand-in, not {3 * CARDS}")
    return rows


CARD = "application/vnd.microsoft.card.adaptive"


if __name__ == "__main__":
    main()
