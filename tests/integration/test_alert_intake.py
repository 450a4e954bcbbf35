"""Alerts open or join incidents in Azure Tables (Azurite): deduplicated, race-safe, retry-safe."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from shared.azure_monitor.alert import parse_alert
from shared.catalog.services import load_catalog, parse_catalog
from shared.core.errors import StorageUnavailable
from shared.core.storage import StorageAccount
from shared.incidents.alert_intake import receive_alert
from shared.incidents.detection import firing_alerts
from shared.incidents.store import IncidentStore
from tests.conftest import ROOT, sample_bytes, sample_json

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CATALOG = load_catalog(ROOT / "config")
UNGROUPED = parse_catalog(
    {"service": [{"id": "checkout", "component": "Checkout", "resource_groups": ["test-RG"], "group_by": "alert"}]},
    "test",
)
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
    assert (incident.service, incident.components, incident.severity, incident.status, incident.source) == (
        "checkout",
        ("Checkout",),
        4,
        "triggered",
        "monitoring",
    )
    assert incident.source_detail == "Azure Monitor Platform alert rule 'test-metricAlertRule'"
    assert incident.detected_at == FIRED.fired_at and incident.declared_at == NOW
    assert incident.group == "service-checkout"
    (event,) = store.timeline("INC-1")
    assert (event.kind, (event.event_id,), event.actor, event.public) == (
        "alert.fired",
        intake.event_ids,
        "Azure Monitor",
        False,
    )
    assert store.find_alert(FIRED.key).incident_id == "INC-1"


def test_the_same_alert_again_joins_its_incident_without_a_second_event(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(FIRED, CATALOG, store, NOW)
    again = receive_alert(FIRED, CATALOG, store, NOW)
    assert (again.incident_id, again.deduplicated, again.event_ids, again.outcome) == ("INC-1", True, (), "duplicate")
    assert len(store.list_incidents()) == 1 and len(store.timeline("INC-1")) == 1


def test_alerts_of_services_that_do_not_group_get_consecutive_incident_numbers(storage_account):
    store = IncidentStore(storage_account)
    ids = [receive_alert(_alert_with_id(f"alert-{n}"), UNGROUPED, store, NOW).incident_id for n in range(3)]
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
    assert retry.event_ids != ()  # something changed, so the status page is refreshed
    assert store.get_incident("INC-1").components == ("Checkout",)
    assert [event.kind for event in store.timeline("INC-1")] == ["alert.fired"]


def test_a_resolved_alert_is_recorded_once_on_its_incident(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert_with_id("cpu"), CATALOG, store, NOW)
    resolved = _alert_with_id("cpu", condition="Resolved")
    first, second = (receive_alert(resolved, CATALOG, store, NOW) for _ in range(2))
    assert (first.incident_id, first.deduplicated) == ("INC-1", False)
    assert (second.incident_id, second.deduplicated, second.event_ids) == ("INC-1", True, ())
    assert [event.kind for event in store.timeline("INC-1")] == ["alert.fired", "alert.resolved", "status.changed"]


def test_a_resolved_alert_never_seen_firing_opens_nothing(storage_account):
    store = IncidentStore(storage_account)
    intake = receive_alert(
        parse_alert(sample_bytes("00_common_schema_sample_metric_resolved.json")), CATALOG, store, NOW
    )
    assert (intake.incident_id, intake.deduplicated, intake.event_ids) == (None, False, ())
    assert store.list_incidents() == []


def test_a_delivery_that_stopped_before_its_first_event_is_finished_by_the_retry(storage_account):
    store = IncidentStore(storage_account)
    opened = receive_alert(FIRED, CATALOG, store, NOW)
    (event_id,) = opened.event_ids
    storage_account.table("timeline").delete_entity("INC-1", event_id)  # as if the first attempt died here
    retry = receive_alert(FIRED, CATALOG, IncidentStore(storage_account), NOW)  # so the retry is another process
    assert (retry.incident_id, retry.deduplicated, retry.event_ids) == ("INC-1", True, (event_id,))
    assert [event.kind for event in store.timeline("INC-1")] == ["alert.fired"]


def test_a_repeat_asks_storage_nothing_in_the_process_that_finished_the_delivery(storage_account):
    requests: list[str] = []
    counted = StorageAccount(
        storage_account.connection_string, on_request=lambda r: requests.append(r.http_request.method)
    )
    here, elsewhere = IncidentStore(counted), IncidentStore(StorageAccount(storage_account.connection_string))
    opened = receive_alert(FIRED, CATALOG, here, NOW)
    receive_alert(FIRED, CATALOG, elsewhere, NOW)  # another instance's repeat: the event's insert conflicts
    requests.clear()
    repeat = receive_alert(FIRED, CATALOG, here, NOW)
    assert (repeat.incident_id, repeat.outcome, repeat.event_ids) == (opened.incident_id, "duplicate", ())
    assert requests == []
    assert [event.kind for event in here.timeline("INC-1")] == ["alert.fired"]


def test_a_repeat_elsewhere_learns_nothing_from_the_conflict_it_met(storage_account):
    """Another instance's conflict may be a delivery still in flight that takes its event back when it fails: its
    process keeps asking storage, so a retry after that failure finishes the delivery."""
    here, elsewhere = IncidentStore(storage_account), IncidentStore(StorageAccount(storage_account.connection_string))
    (event_id,) = receive_alert(FIRED, CATALOG, here, NOW).event_ids
    assert receive_alert(FIRED, CATALOG, elsewhere, NOW).outcome == "duplicate"
    storage_account.table("timeline").delete_entity("INC-1", event_id)  # the first delivery's take-back
    retry = receive_alert(FIRED, CATALOG, elsewhere, NOW)
    assert (retry.outcome, retry.event_ids) == ("duplicate", (event_id,))
    assert [event.kind for event in here.timeline("INC-1")] == ["alert.fired"]


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
    assert [event.kind for event in store.timeline("INC-1")] == ["alert.fired", "alert.resolved", "status.changed"]


# --- grouping, resolution and policy -------------------------------------------------------------------------------
POLICIES = parse_catalog(
    {
        "default": {"component": "Other services", "min_severity": 3},
        "service": [
            {"id": "checkout", "component": "Checkout", "rule_patterns": ["checkout-*"], "group_window_minutes": 30},
            {"id": "builds", "component": "Build pipelines", "rule_patterns": ["build-*"], "group_by": "rule"},
            {"id": "search", "component": "Search", "rule_patterns": ["search-*"], "auto_resolve": True},
        ],
    },
    "test",
)


def _alert(alert_id: str, rule: str, *, severity: str = "Sev2", condition: str = "Fired", fired: str = "", **data):
    document = sample_json("59_test_action_metric_static_threshold.json")
    essentials = document["data"]["essentials"]
    essentials.update(
        alertId=f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{alert_id}",
        alertRule=rule,
        severity=severity,
        monitorCondition=condition,
        alertTargetIDs=[],
        firedDateTime=fired or "2026-11-23T09:00:00Z",
    )
    if condition == "Resolved":
        essentials["resolvedDateTime"] = "2026-11-23T09:20:00Z"
    document["data"].update(data)
    return parse_alert(json.dumps(document).encode())


def _kinds(store: IncidentStore, ident: str) -> list[str]:
    return [event.kind for event in store.timeline(ident)]


UNGROUPED_POLICIES = parse_catalog(
    {"service": [{"id": "checkout", "component": "Checkout", "rule_patterns": ["checkout-*"], "group_by": "alert"}]},
    "test",
)


def test_another_alert_of_the_same_service_joins_its_open_incident(storage_account):
    store = IncidentStore(storage_account)
    first = receive_alert(_alert("a1", "checkout-latency"), POLICIES, store, NOW)
    second = receive_alert(_alert("a2", "checkout-errors", fired="2026-11-23T09:10:00Z"), POLICIES, store, NOW)
    assert (first.outcome, second.outcome, second.incident_id, second.deduplicated) == (
        "opened",
        "joined",
        "INC-1",
        False,
    )
    assert _kinds(store, "INC-1") == ["alert.fired", "alert.fired"]
    assert [incident.id for incident in store.list_incidents()] == ["INC-1"]


def test_a_worse_alert_joining_raises_the_severity_and_says_why(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert("a1", "checkout-latency", severity="Sev3"), POLICIES, store, NOW)
    joined = receive_alert(_alert("a2", "checkout-down", severity="Sev0"), POLICIES, store, NOW)
    incident = store.get_incident("INC-1")
    assert (incident.severity, incident.version) == (1, 2)
    change = store.timeline("INC-1")[-1]
    assert (change.kind, change.text) == (
        "severity.changed",
        "Severity raised from SEV4 to SEV1: alert checkout-down joined",
    )
    assert joined.event_ids[-1] == change.event_id


def test_an_alert_after_the_grouping_window_opens_a_new_incident(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert("a1", "checkout-latency", fired="2026-11-23T09:00:00Z"), POLICIES, store, NOW)
    late = receive_alert(_alert("a2", "checkout-errors", fired="2026-11-23T09:31:00Z"), POLICIES, store, NOW)
    assert (late.outcome, late.incident_id) == ("opened", "INC-2")
    # The window is counted from the first alert of the incident now collecting the group.
    later = receive_alert(_alert("a3", "checkout-cpu", fired="2026-11-23T09:45:00Z"), POLICIES, store, NOW)
    assert later.incident_id == "INC-2"


def test_services_grouping_by_rule_open_one_incident_per_rule(storage_account):
    store = IncidentStore(storage_account)
    ids = [
        receive_alert(_alert(key, rule), POLICIES, store, NOW).incident_id
        for key, rule in [("b1", "build-queue"), ("b2", "build-disk"), ("b3", "build-queue")]
    ]
    assert ids == ["INC-1", "INC-2", "INC-1"]


def test_alerts_of_different_services_never_share_an_incident(storage_account):
    store = IncidentStore(storage_account)
    a = receive_alert(_alert("a1", "checkout-latency"), POLICIES, store, NOW)
    b = receive_alert(_alert("s1", "search-latency"), POLICIES, store, NOW)
    assert (a.incident_id, b.incident_id) == ("INC-1", "INC-2")
    assert store.get_incident("INC-2").components == ("Search",)


def test_concurrent_first_alerts_of_one_service_open_exactly_one_incident(storage_account):
    stores = [IncidentStore(storage_account) for _ in range(4)]  # as if four Functions instances
    alerts = [_alert(f"storm-{n}", f"checkout-{n}") for n in range(24)]
    with ThreadPoolExecutor(max_workers=24) as pool:
        intakes = list(pool.map(lambda n: receive_alert(alerts[n], POLICIES, stores[n % 4], NOW), range(24)))
    store = stores[0]
    (incident,) = store.list_incidents()
    assert {intake.incident_id for intake in intakes} == {incident.id}
    assert sum(intake.outcome == "opened" for intake in intakes) == 1
    assert _kinds(store, incident.id) == ["alert.fired"] * 24
    assert {store.find_alert(alert.key).incident_id for alert in alerts} == {incident.id}
    # The losers joined the winner without spending numbers: the next incident is INC-2.
    assert receive_alert(_alert("s9", "search-latency"), POLICIES, store, NOW).incident_id == "INC-2"


def test_when_every_alert_has_resolved_the_incident_moves_to_monitoring(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert("a1", "checkout-latency"), POLICIES, store, NOW)
    receive_alert(_alert("a2", "checkout-errors"), POLICIES, store, NOW)
    receive_alert(_alert("a1", "checkout-latency", condition="Resolved"), POLICIES, store, NOW)
    assert store.get_incident("INC-1").status == "triggered"  # a2 still fires
    receive_alert(_alert("a2", "checkout-errors", condition="Resolved"), POLICIES, store, NOW)
    incident = store.get_incident("INC-1")
    assert (incident.status, incident.resolved_at) == ("monitoring", None)
    last = store.timeline("INC-1")[-1]
    assert (last.kind, last.text) == (
        "status.changed",
        "All 2 alerts have resolved; monitoring. Service checkout does not auto-resolve: resolve the incident when "
        "satisfied",
    )
    assert store.find_alert(_alert("a1", "checkout-latency").key).condition == "Resolved"


def test_an_alert_firing_while_monitoring_reopens_the_investigation(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert("a1", "checkout-latency"), POLICIES, store, NOW)
    receive_alert(_alert("a1", "checkout-latency", condition="Resolved"), POLICIES, store, NOW)
    assert store.get_incident("INC-1").status == "monitoring"
    again = receive_alert(_alert("a2", "checkout-latency", fired="2026-11-23T09:25:00Z"), POLICIES, store, NOW)
    assert (again.incident_id, store.get_incident("INC-1").status) == ("INC-1", "triggered")
    assert store.timeline("INC-1")[-1].text == (
        "Back to triggered: alert checkout-latency fired while the incident was being monitored"
    )


def test_an_auto_resolving_service_resolves_and_the_next_alert_opens_a_new_incident(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert("s1", "search-latency"), POLICIES, store, NOW)
    receive_alert(_alert("s1", "search-latency", condition="Resolved"), POLICIES, store, NOW)
    incident = store.get_incident("INC-1")
    assert (incident.status, incident.resolved_at) == ("resolved", datetime(2026, 11, 23, 9, 20, tzinfo=UTC))
    assert (
        store.timeline("INC-1")[-1].text
        == "The alert has resolved; resolved automatically (service search auto-resolves)"
    )
    assert store.find_group("service-search") is None
    fresh = receive_alert(_alert("s2", "search-latency", fired="2026-11-23T09:30:00Z"), POLICIES, store, NOW)
    assert (fresh.outcome, fresh.incident_id) == ("opened", "INC-2")


def test_the_state_change_after_the_last_resolution_happens_once_however_often_it_arrives(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert("a1", "checkout-latency"), POLICIES, store, NOW)
    resolved = _alert("a1", "checkout-latency", condition="Resolved")
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda _: receive_alert(resolved, POLICIES, store, NOW), range(10)))
    assert _kinds(store, "INC-1") == ["alert.fired", "alert.resolved", "status.changed"]
    assert store.get_incident("INC-1").version == 2


def test_alerts_milder_than_the_minimum_are_logged_not_paged(storage_account):
    store = IncidentStore(storage_account)
    intake = receive_alert(_alert("m1", "disk-warning", severity="Sev3"), POLICIES, store, NOW)  # → SEV4, default min 3
    assert (intake.incident_id, intake.outcome, intake.event_ids) == (None, "logged", ())
    assert store.list_incidents() == []
    row = storage_account.table("alerts").get_entity("alert-" + intake.alert_key, "alert")
    assert json.loads(row["detail"])["logged_only"] == "SEV4 is milder than service default's minimum SEV3"
    again = receive_alert(_alert("m1", "disk-warning", severity="Sev3"), POLICIES, store, NOW)
    assert (again.outcome, again.deduplicated) == ("logged", True)


def test_a_mild_alert_still_joins_an_open_incident_of_its_service(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert("d1", "disk-full", severity="Sev1"), POLICIES, store, NOW)
    mild = receive_alert(_alert("d2", "disk-warning", severity="Sev4"), POLICIES, store, NOW)
    assert (mild.outcome, mild.incident_id) == ("joined", "INC-1")


def test_an_slo_burn_rate_alert_records_the_slo_as_its_source(storage_account):
    store = IncidentStore(storage_account)
    alert = _alert("slo1", "checkout-burn-fast", customProperties={"slo": "checkout-availability"})
    receive_alert(alert, POLICIES, store, NOW)
    incident = store.get_incident("INC-1")
    assert (incident.source, incident.source_detail) == (
        "slo",
        "SLO 'checkout-availability' burn rate (Azure Monitor Platform alert rule 'checkout-burn-fast')",
    )


def test_a_retry_of_an_unfinished_opening_joins_the_incident_that_took_the_group_meanwhile(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert("b1", "checkout-latency"), POLICIES, store, NOW)  # INC-1 collects checkout's alerts
    # A delivery of another checkout alert claimed INC-2 for itself, then died before creating it.
    late = _alert("a2", "checkout-errors", fired="2026-11-23T09:05:00Z")
    assert store.claim_alert(late.key, "INC-2", "Fired", {}) is True
    retry = receive_alert(late, POLICIES, store, NOW)
    assert (retry.incident_id, retry.outcome) == ("INC-1", "joined")
    assert [i.id for i in store.list_incidents()] == ["INC-1"]
    assert store.find_alert(late.key).incident_id == "INC-1"
    assert store.find_group("service-checkout")[0].incident_id == "INC-1"


def test_a_resolution_racing_a_new_alert_never_closes_an_incident_with_a_firing_alert(storage_account):
    store = IncidentStore(storage_account)
    for round_ in range(6):
        first = _alert(f"x{round_}", "search-latency", fired=f"2026-11-23T1{round_}:00:00Z")
        receive_alert(first, POLICIES, store, NOW)
        resolved = _alert(f"x{round_}", "search-latency", condition="Resolved", fired=f"2026-11-23T1{round_}:00:00Z")
        other = _alert(f"y{round_}", "search-errors", fired=f"2026-11-23T1{round_}:01:00Z")
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda alert: receive_alert(alert, POLICIES, store, NOW), [resolved, other]))
    for incident in store.list_incidents():
        firing = firing_alerts(store.timeline(incident.id))
        assert not (firing and not incident.is_open), f"{incident.id} is {incident.status} with {firing} firing"


def test_a_resolution_that_arrives_before_its_firing_is_applied_when_the_firing_comes(storage_account):
    store = IncidentStore(storage_account)
    early = receive_alert(_alert("r1", "checkout-latency", condition="Resolved"), POLICIES, store, NOW)
    assert (early.incident_id, early.outcome) == (None, "logged")
    late = receive_alert(_alert("r1", "checkout-latency"), POLICIES, store, NOW)
    assert (late.incident_id, late.outcome) == ("INC-1", "opened")
    incident = store.get_incident("INC-1")
    assert (incident.status, incident.mitigated_at) == ("monitoring", datetime(2026, 11, 23, 9, 20, tzinfo=UTC))
    assert _kinds(store, "INC-1") == ["alert.fired", "alert.resolved", "status.changed"]
    assert store.find_alert(late.alert_key).condition == "Resolved"


def test_a_resolution_that_overtakes_the_opening_of_its_incident_is_retried(storage_account):
    store = IncidentStore(storage_account)
    alert = _alert("r2", "checkout-latency")
    assert store.claim_alert(alert.key, "INC-1", "Fired", {}) is True  # the firing is mid-way: claimed, not opened
    with pytest.raises(StorageUnavailable, match="INC-1 is still being opened"):
        receive_alert(_alert("r2", "checkout-latency", condition="Resolved"), POLICIES, store, NOW)
    receive_alert(alert, POLICIES, store, NOW)  # the firing finishes (here: its retry)
    receive_alert(_alert("r2", "checkout-latency", condition="Resolved"), POLICIES, store, NOW)  # Azure retries
    assert store.get_incident("INC-1").status == "monitoring"


def test_firings_and_resolutions_in_any_order_and_concurrently_settle_every_incident(storage_account):
    store = IncidentStore(storage_account)

    def deliver(alert) -> None:
        for _ in range(20):  # as Azure Monitor retries a 503
            try:
                receive_alert(alert, UNGROUPED_POLICIES, store, NOW)
                return
            except StorageUnavailable:
                time.sleep(0.05)
        raise AssertionError("never accepted")

    deliveries = []
    for n in range(12):
        fired, resolved = _alert(f"o{n}", f"checkout-{n}"), _alert(f"o{n}", f"checkout-{n}", condition="Resolved")
        deliveries += [resolved, fired] if n % 2 else [fired, resolved]
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(deliver, deliveries))
    incidents = store.list_incidents()
    assert len(incidents) == 12 and {i.status for i in incidents} == {"monitoring"}


def test_numbering_continues_from_the_first_releases_counter_and_skips_numbers_already_taken(storage_account):
    incidents = storage_account.table("incidents")
    incidents.create_entity({"PartitionKey": "counter", "RowKey": "incident-number", "value": 5})
    incidents.create_entity({"PartitionKey": "incident", "RowKey": "INC-6", "title": "left by an interrupted run"})
    store = IncidentStore(storage_account)
    assert receive_alert(_alert("n1", "checkout-latency"), POLICIES, store, NOW).incident_id == "INC-7"


def _as_the_first_release_stored_it(storage_account, key: str) -> None:
    """The first release named alert rows (and declaration claims) by the bare key."""
    alerts = storage_account.table("alerts")
    row = dict(alerts.get_entity("alert-" + key, "alert"))
    alerts.delete_entity("alert-" + key, "alert")
    alerts.create_entity({**row, "PartitionKey": key, "RowKey": "alert"})


def test_an_alert_stored_by_the_first_release_is_still_found_and_resolved(storage_account):
    store = IncidentStore(storage_account)
    fired = _alert_with_id("legacy-1")
    receive_alert(fired, CATALOG, store, NOW)
    _as_the_first_release_stored_it(storage_account, fired.key)
    resolved = receive_alert(_alert_with_id("legacy-1", "Resolved"), CATALOG, store, NOW)
    assert (resolved.incident_id, resolved.outcome) == ("INC-1", "resolved")
    assert store.find_alert(fired.key).condition == "Resolved"
    assert store.get_incident("INC-1").status == "monitoring"


def test_a_first_release_alert_firing_again_joins_its_open_incident_as_one_more_signal(storage_account):
    """A firing reads only the alert's own row (one read for a new alert), so it does not see the first release's."""
    store = IncidentStore(storage_account)
    fired = _alert_with_id("legacy-1")
    receive_alert(fired, CATALOG, store, NOW)
    _as_the_first_release_stored_it(storage_account, fired.key)
    store = IncidentStore(storage_account)  # the release after it: another process
    again = receive_alert(fired, CATALOG, store, NOW)
    assert (again.incident_id, again.deduplicated) == ("INC-1", False)  # no second incident
    assert receive_alert(fired, CATALOG, store, NOW).deduplicated  # from then on, its own row
    resolved = receive_alert(_alert_with_id("legacy-1", "Resolved"), CATALOG, store, NOW)
    assert (resolved.incident_id, resolved.outcome) == ("INC-1", "resolved")
    assert store.get_incident("INC-1").status == "monitoring"


def test_an_alert_named_like_a_first_release_declaration_claim_is_an_alert_of_its_own(storage_account):
    store = IncidentStore(storage_account)
    store.incidents.create_entity({"PartitionKey": "incident", "RowKey": "INC-9", "title": "unused"})
    claim = "declared-0123456789abcdef0123456789abcdef"
    storage_account.table("alerts").create_entity(
        {"PartitionKey": claim, "RowKey": "alert", "incident": "INC-9", "condition": "Declared"}
    )
    intake = receive_alert(_alert_with_id(claim), CATALOG, store, NOW)
    assert (intake.alert_key, intake.outcome, intake.deduplicated) == (claim, "opened", False)
    assert store.claimed(claim) == "INC-9"  # the declaration's retry still finds its incident
