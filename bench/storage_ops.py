"""Storage operations per alert intake, counted on the wire by an azure-core pipeline policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bench.figures import report
from devhost.azurite import ROOT, Azurite
from shared.adapters.incident_store import IncidentStore
from shared.adapters.storage import StorageAccount
from shared.alert import parse_alert
from shared.alert_intake import receive_alert
from shared.catalog import load_catalog

SAMPLE = ROOT / "samples" / "azure-monitor" / "59_test_action_metric_static_threshold.json"


class RequestCounter:
    """An azure-core raw_request_hook: called for every request sent, retries included."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, request: object) -> None:
        self.count += 1


def main() -> None:
    counter = RequestCounter()
    catalog = load_catalog(ROOT / "config")
    document = json.loads(SAMPLE.read_text())
    with Azurite() as storage:
        account = StorageAccount(storage.connection_string, on_request=counter)
        store = IncidentStore(account)
        for table in ("incidents", "timeline", "alerts"):
            account.table(table)  # created once per process; not part of any alert's cost
        now = datetime.now(UTC)
        costs: dict[str, list[int]] = {"new incident": [], "duplicate": []}
        for number in range(20):
            document["data"]["essentials"]["alertId"] = f"/alerts/ops-{number}"
            alert = parse_alert(json.dumps(document).encode())
            for kind in ("new incident", "duplicate"):
                before = counter.count
                receive_alert(alert, catalog, store, now)
                costs[kind].append(counter.count - before)
    # The HTTP function adds one queue message (the status page refresh) for a new incident; none for a duplicate.
    report(
        "Storage operations per alert intake, counted on the wire (20 alerts)",
        [
            (kind, f"{sum(values) / len(values):.2f} table operations (max {max(values)})")
            for kind, values in costs.items()
        ],
    )


if __name__ == "__main__":
    main()
