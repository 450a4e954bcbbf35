"""The open incidents index (shared.incidents.store): a copy of each open incident beside it, written in the same
transaction as the incident, so "what is open" is one short range however long the history — and it always says
what a scan of every incident says. Incidents stored before the index are scanned until `reindex` builds it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devhost.ops.cli import main
from functions import context
from shared.core.storage import StorageAccount
from shared.incidents import lifecycle
from shared.incidents.incident import (
    ACKNOWLEDGED,
    IDENTIFIED,
    INVESTIGATING,
    MONITORING,
    OPEN,
    RESOLVED,
    TRIGGERED,
    Incident,
    status_filter,
)
from shared.incidents.store import IncidentStore
from shared.notifications import escalate
from shared.notifications.ledger import EscalationLedger
from shared.notifications.notifier import Notifier
from tests.conftest import clear
from tests.integration.test_notifications import fast_sender

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FORWARD = (ACKNOWLEDGED, INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED)


def _incident(number: int, status: str = TRIGGERED, **changes: Any) -> Incident:
    at = NOW + timedelta(minutes=number)
    values: dict[str, Any] = {
        "id": f"INC-{number}",
        "number": number,
        "title": f"checkout errors {number}",
        "service": "checkout",
        "components": ("Checkout",),
        "severity": 2,
        "status": status,
        "source": "monitoring",
        "source_detail": "Azure Monitor",
        "detected_at": at,
        "declared_at": at,
        "updated_at": at,
        **changes,
    }
    if status == RESOLVED:
        values.setdefault("resolved_at", at)
    return Incident(**values)


def _declare(store: IncidentStore, group: str | None = None) -> Incident:
    return store.open_numbered(lambda number: _incident(number, group=group))


def _change(store: IncidentStore, ident: str, decide: Any) -> bool:
    """Read, decide, save with the ETag, as every writer does; False when the change is refused."""
    stored = store.load_incident(ident)
    assert stored is not None
    try:
        changed = decide(stored.incident)
    except lifecycle.RefusedTransition:
        return False
    store.save_incident(changed, stored.etag, was_open=stored.incident.is_open)
    return True


def _scanned_open(store: IncidentStore) -> list[Incident]:
    return sorted((i for i in store.each_incident() if i.is_open), key=lambda incident: incident.number)


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("declare"), st.booleans()),
        st.tuples(st.just("advance"), st.integers(0, 9), st.sampled_from(FORWARD)),
        st.tuples(st.just("reopen"), st.integers(0, 9)),
        st.tuples(st.just("review"), st.integers(0, 9)),
        st.tuples(st.just("close"), st.integers(0, 9)),
        st.tuples(st.just("promise"), st.integers(0, 9), st.integers(-30, 30)),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OPERATIONS)
def test_after_any_sequence_of_opening_resolving_reopening_and_closing_the_index_equals_a_scan(
    storage_account, azurite, operations
):
    clear(azurite.connection_string)
    store = IncidentStore(storage_account)
    declared: list[str] = []
    at = NOW + timedelta(hours=1)
    for operation in operations:
        at += timedelta(minutes=1)
        if operation[0] == "declare":
            declared.append(_declare(store, group=f"g-{len(declared)}" if operation[1] else None).id)
            continue
        if not declared:
            continue
        ident = declared[operation[1] % len(declared)]
        if operation[0] == "advance":
            _change(store, ident, lambda i, target=operation[2], now=at: lifecycle.advance(i, target, "Priya", now))
        elif operation[0] == "reopen":
            _change(store, ident, lambda i, now=at: lifecycle.reopen(i, now))
        elif operation[0] == "review":
            _change(store, ident, lambda i, now=at: lifecycle.start_review(i, now))
        elif operation[0] == "close":
            _change(store, ident, lambda i, now=at: lifecycle.close(i, False, now))
        else:
            _change(
                store,
                ident,
                lambda i, m=operation[2], now=at: i.changed(now, next_update_at=now + timedelta(minutes=m)),
            )
    scanned = _scanned_open(store)
    # Complete from the first incident on (a store that never had one scans, and finds none).
    assert store.open_incidents() == (scanned if declared else None)  # every field, the version included
    assert store.list_incidents(status_filter(OPEN)) == scanned
    assert store.list_incidents((TRIGGERED,)) == [i for i in scanned if i.status == TRIGGERED]


class Requests:
    """Every table request on the wire (azure-core's raw_request_hook): (method, table, what it asked for)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, request: Any) -> None:
        url = urlsplit(request.http_request.url)
        table, _, key = unquote(url.path).split("/")[-1].partition("(")
        if table == "Tables":
            return
        asked = parse_qs(url.query).get("$filter", [key.rstrip(")")])[0]
        self.seen.append((request.http_request.method, table, asked))

    def take(self) -> list[tuple[str, str, str]]:
        taken, self.seen = self.seen, []
        return taken


def test_the_reminders_tick_reads_the_open_index_and_nothing_that_grows_with_history(storage_account, azurite):
    requests = Requests()
    account = StorageAccount(azurite.connection_string, on_request=requests)
    store = IncidentStore(account)
    notifier = Notifier(
        store, EscalationLedger(account), fast_sender(), account, context.settings(), context.configuration()
    )
    unacknowledged = _declare(store)
    acknowledged = _declare(store)
    _change(store, acknowledged.id, lambda i: lifecycle.advance(i, ACKNOWLEDGED, "Priya", NOW))
    seen_per_history = []
    for history in (10, 60):
        while len(store.list_incidents()) < history + 2:
            resolved = _declare(store)
            _change(store, resolved.id, lambda i: lifecycle.advance(i, RESOLVED, "Priya", NOW))
        requests.take()
        assert escalate.remind(NOW + timedelta(hours=2), notifier) == []
        seen_per_history.append(requests.take())
    open_range = "PartitionKey eq 'incident' and RowKey ge 'open-' and RowKey lt 'open.'"
    # One range of the index, and the escalation ledger of the one incident nobody acknowledged (chain not ended).
    expected = [
        ("GET", "incidents", open_range),
        ("GET", "escalations", f"PartitionKey='{unacknowledged.id}',RowKey='chain-end'"),
    ]
    assert seen_per_history == [expected, expected]


def test_get_open_incidents_reads_one_range_of_the_index(storage_account, azurite):
    requests = Requests()
    store = IncidentStore(StorageAccount(azurite.connection_string, on_request=requests))
    for _ in range(3):
        _declare(store)
    _change(store, "INC-2", lambda i: lifecycle.advance(i, RESOLVED, "Priya", NOW))
    requests.take()
    assert [i.id for i in store.list_incidents(status_filter(OPEN))] == ["INC-1", "INC-3"]
    assert len(requests.take()) == 1


def _as_before_the_index(storage_account: StorageAccount) -> None:
    """Remove every index row: the store as a release before the index left it."""
    table = storage_account.table("incidents")
    query = "PartitionKey eq 'incident' and RowKey ge 'open-' and RowKey lt 'open.'"
    for entity in list(table.query_entities(query)):
        table.delete_entity("incident", entity["RowKey"])


def test_incidents_stored_before_the_index_are_scanned_until_reindex_then_the_index_answers(storage_account):
    store = IncidentStore(storage_account)
    for _ in range(5):
        _declare(store)
    _change(store, "INC-2", lambda i: lifecycle.advance(i, RESOLVED, "Priya", NOW))
    _as_before_the_index(storage_account)
    # A stale entry of a closed incident (as a crash between releases could leave): reindex removes it.
    stale = {"PartitionKey": "incident", "RowKey": "open-INC-2", "id": "INC-2", "number": 2}
    storage_account.table("incidents").create_entity(stale)
    assert store.open_incidents() is None  # not complete: nobody trusts it yet
    assert [i.id for i in store.list_incidents(status_filter(OPEN))] == ["INC-1", "INC-3", "INC-4", "INC-5"]
    # Writers keep working before the reindex: resolving an incident that has no entry, reopening one.
    assert _change(store, "INC-4", lambda i: lifecycle.advance(i, RESOLVED, "Priya", NOW))
    assert _change(store, "INC-2", lambda i: lifecycle.reopen(i, NOW))

    out = io.StringIO()
    assert main(["--settings", "/dev/null", "reindex"], out=out) == 0
    assert "4 open incidents indexed, 0 stale entries removed" in out.getvalue()
    assert [i.id for i in store.open_incidents() or []] == ["INC-1", "INC-2", "INC-3", "INC-5"]
    assert store.open_incidents() == _scanned_open(store)

    out = io.StringIO()
    assert main(["--settings", "/dev/null", "reindex"], out=out) == 0  # idempotent: the same index again
    assert "4 open incidents indexed, 0 stale entries removed" in out.getvalue()
    assert store.open_incidents() == _scanned_open(store)


def test_reindex_removes_an_entry_whose_incident_is_closed(storage_account):
    store = IncidentStore(storage_account)
    _declare(store)
    _declare(store)
    _change(store, "INC-1", lambda i: lifecycle.advance(i, RESOLVED, "Priya", NOW))
    storage_account.table("incidents").upsert_entity({"PartitionKey": "incident", "RowKey": "open-INC-1"})
    assert store.reindex_open() == (1, 1)
    assert [i.id for i in store.open_incidents() or []] == ["INC-2"]
