"""Boards reconcile: find the incidents at or above the Boards severity threshold that have no work item, and enqueue
their change on `workitems`, so the normal consumer creates the items (shared.workitems.reconcile decides).

Nothing here talks to Azure DevOps: the consumer does, with the app's own Boards settings, so the tool needs only
storage and boards.toml. The consumer's ledger makes each item once, however often this runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from shared.core.queues import WORKITEMS
from shared.core.storage import StorageAccount
from shared.incidents.store import IncidentStore
from shared.workitems.config import BoardsConfig
from shared.workitems.ledger import LEDGER_TABLE, Ledger, lease_for
from shared.workitems.reconcile import Finding, candidate, examine
from shared.workitems.sync import INCIDENT_KEY


def reconcile(
    store: IncidentStore,
    account: StorageAccount,
    config: BoardsConfig,
    now: datetime,
    *,
    dry_run: bool = False,
    checked: Callable[[], None] | None = None,
) -> Iterator[Finding]:
    """The candidates one by one, each with what was done (its message enqueued on `workitems` unless `dry_run`).
    `checked` is called for every incident read, candidate or not (the summary counts them)."""
    ledger = Ledger(account.table(LEDGER_TABLE), lease_for(config.http))
    for incident in store.each_incident():
        if checked is not None:
            checked()
        if not candidate(incident, config):
            continue
        finding = examine(incident, ledger.entry(incident.id, INCIDENT_KEY), store.timeline(incident.id), config, now)
        if finding.message is not None and not dry_run:
            account.queue(WORKITEMS).send_message(finding.message)
        yield finding
