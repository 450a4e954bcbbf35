"""Alerts open or join incidents in Azure Tables (Azurite): deduplicated, race-safe, retry-safe."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from shared.adapters.incident_store import IncidentStore
from shared.alert import parse_alert
from shared.alert_intake import receive_alert
from shared.catalog import load_catalog
from tests.conftest import ROOT, sample_bytes, sample_json

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CATALOG = load_catalog(ROOT / "config")
FIRED = parse_alert(sample_bytes("59_test_action_metric_static_threshold.json"))


def _alert_with_id(alert_id: str, condition: str = "Fired"):
    document = sample_json("59_test_action_metric_static_threshold.json")
    document["data"]["essentials"].update(
        alertId=f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{alert_id}",
        monitorCondition=condition,
        resolvedDateTime="2025-04-15T18:30:00Z",
    )
    return parse_alert(json.dumps(document).encode())


def test_a_new_alert_opens_an_incident_with_its_first_timeline_event(storage_account):
    store = IncidentStore(storage_account)
    intake = receive_alert(FIRED, CATALOG, store, NOW)
    assert (intake.incident_id, intake.alert_key, intake.deduplicated) == ("INC-1", FIRED.key, False)
    incident = store.get_incident("INC-1")
    assert incident is not None
    assert (incident.service, incident.component, incident.severity, incident.status, incident.source) == (
        "checkout",
        "Checkout",
        4,
        "triggered",
        "monitoring",
    )
    assert incident.detected_at == FIRED.fired_at and incident.declared_at == NOW
    (event,) = store.timeline("INC-1")
    assert (event.kind, event.event_id, event.actor, event.public) == (
        "alert.fired",
        intake.event_id,
        "Azure Monitor",
        False,
    )
    assert store.find_alert(FIRED.key).incident_id == "INC-1"


def test_the_same_alert_again_joins_its_incident_without_a_second_event(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(FIRED, CATALOG, store, NOW)
    again = receive_alert(FIRED, CATALOG, store, NOW)
    assert (again.incident_id, again.deduplicated, again.event_id) == ("INC-1", True, None)
    assert len(store.list_incidents()) == 1 and len(store.timeline("INC-1")) == 1


def test_different_alerts_get_consecutive_incident_numbers(storage_account):
    store = IncidentStore(storage_account)
    ids = [receive_alert(_alert_with_id(f"alert-{n}"), CATALOG, store, NOW).incident_id for n in range(3)]
    assert ids == ["INC-1", "INC-2", "INC-3"]


def test_fifty_concurrent_deliveries_of_one_alert_make_one_incident_and_one_fired_event(storage_account):
    store = IncidentStore(storage_account)
    with ThreadPoolExecutor(max_workers=50) as pool:
        intakes = list(pool.map(lambda _: receive_alert(FIRED, CATALOG, store, NOW), range(50)))
    assert {intake.incident_id for intake in intakes} == {intakes[0].incident_id}
    assert sum(not intake.deduplicated for intake in intakes) == 1
    assert len(store.list_incidents()) == 1
    assert [event.kind for event in store.timeline(intakes[0].incident_id)] == ["alert.fired"]


def test_incident_numbers_are_unique_under_concurrent_allocation_by_separate_processes(storage_account):
    # Separate stores share nothing in memory, like separate Functions instances.
    stores = [IncidentStore(storage_account) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda n: stores[n % 8].allocate_number(), range(40)))
    assert sorted(numbers) == list(range(1, 41))


def test_a_delivery_that_stopped_after_claiming_the_alert_is_finished_by_the_retry(storage_account):
    store = IncidentStore(storage_account)
    # The first attempt claimed the key for INC-1, then died before writing the incident.
    assert store.claim_alert(FIRED.key, "INC-1", "Fired", {}) is True
    retry = receive_alert(FIRED, CATALOG, store, NOW)
    assert (retry.incident_id, retry.deduplicated) == ("INC-1", True)
    assert retry.event_id is not None  # something changed, so the status page is refreshed
    assert store.get_incident("INC-1").component == "Checkout"
    assert [event.kind for event in store.timeline("INC-1")] == ["alert.fired"]


def test_a_resolved_alert_is_recorded_once_on_its_incident(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert_with_id("cpu"), CATALOG, store, NOW)
    resolved = _alert_with_id("cpu", condition="Resolved")
    first, second = (receive_alert(resolved, CATALOG, store, NOW) for _ in range(2))
    assert (first.incident_id, first.deduplicated) == ("INC-1", False)
    assert (second.incident_id, second.deduplicated, second.event_id) == ("INC-1", True, None)
    assert [event.kind for event in store.timeline("INC-1")] == ["alert.fired", "alert.resolved"]


def test_a_resolved_alert_never_seen_firing_opens_nothing(storage_account):
    store = IncidentStore(storage_account)
    intake = receive_alert(
        parse_alert(sample_bytes("00_common_schema_sample_metric_resolved.json")), CATALOG, store, NOW
    )
    assert (intake.incident_id, intake.deduplicated, intake.event_id) == (None, False, None)
    assert store.list_incidents() == []


def test_a_delivery_that_stopped_before_its_first_event_is_finished_by_the_retry(storage_account):
    store = IncidentStore(storage_account)
    opened = receive_alert(FIRED, CATALOG, store, NOW)
    storage_account.table("timeline").delete_entity("INC-1", opened.event_id)  # as if the first attempt died here
    retry = receive_alert(FIRED, CATALOG, store, NOW)
    assert (retry.incident_id, retry.deduplicated, retry.event_id) == ("INC-1", True, opened.event_id)
    assert [event.kind for event in store.timeline("INC-1")] == ["alert.fired"]


def test_a_resolution_without_a_resolved_time_is_recorded_once_however_often_it_arrives(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert_with_id("disk"), CATALOG, store, NOW)
    document = sample_json("59_test_action_metric_static_threshold.json")
    document["data"]["essentials"].update(
        alertId="/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/disk", monitorCondition="Resolved"
    )
    resolved = parse_alert(json.dumps(document).encode())
    for minute in range(3):
        receive_alert(resolved, CATALOG, store, NOW.replace(minute=minute))
    assert [event.kind for event in store.timeline("INC-1")] == ["alert.fired", "alert.resolved"]
