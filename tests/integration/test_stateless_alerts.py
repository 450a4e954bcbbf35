"""Stateless alerts (activity log, service and resource health, budgets, classic log search) never send `Resolved`.
They must not hold an incident open: when the alerts that can resolve have resolved, the incident moves on; and an
incident of stateless alerts only moves to monitoring after its service's quiet period without a new alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from shared.azure_monitor.alert import parse_alert
from shared.azure_monitor.statefulness import never_resolves
from shared.catalog.services import parse_catalog
from shared.core.errors import ConfigurationError
from shared.incidents.alert_intake import receive_alert, settle_quiet
from shared.incidents.store import IncidentStore
from tests.conftest import sample_json

FIRED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CATALOG = parse_catalog(
    {
        "default": {"component": "Other", "stateless_quiet_minutes": 120},
        "service": [
            {"id": "checkout", "component": "Checkout", "rule_patterns": ["checkout-*"], "stateless_quiet_minutes": 30}
        ],
    },
    "test",
)
KEY = "stateless-key"


def metric_alert(condition: str = "Fired") -> dict:
    document = sample_json("59_test_action_metric_static_threshold.json")
    essentials = document["data"]["essentials"]
    essentials.update(
        alertId="/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/metric-1",
        alertRule="checkout-latency",
        monitorCondition=condition,
        alertTargetIDs=[],
        firedDateTime="2026-11-23T09:00:00Z",
    )
    if condition == "Resolved":
        essentials["resolvedDateTime"] = "2026-11-23T09:20:00Z"
    return document


def activity_log_alert(alert_id: str = "activity-1", fired: str = "2026-11-23T09:05:00Z") -> dict:
    """An administrative activity log alert (sample 30's context) of the same service: it fires, and never resolves."""
    document = metric_alert()
    document["data"]["essentials"].update(
        alertId=f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{alert_id}",
        alertRule="checkout-deleted-rule",
        severity="Sev2",
        signalType="Activity Log",
        monitoringService="Activity Log - Administrative",
        firedDateTime=fired,
    )
    document["data"]["alertContext"] = sample_json("30_activity_log_administrative.alertContext.json")["alertContext"]
    return document


def receive(document: dict, store: IncidentStore, now: datetime):
    return receive_alert(parse_alert(json.dumps(document).encode()), CATALOG, store, now)


@pytest.mark.parametrize(
    ("monitoring_service", "signal_type", "stateless"),
    [
        ("Platform", "Metric", False),
        ("Log Alerts V2", "Log", False),
        ("SmartDetector", "Log", False),
        ("Prometheus", "Metric", False),
        ("Activity Log - Administrative", "Activity Log", True),
        ("Activity Log - Policy", "Activity Log", True),
        ("Activity Log - Autoscale", "Activity Log", True),
        ("Activity Log - Security", "Activity Log", True),
        ("ServiceHealth", "ActivityLog", True),
        ("Resource Health", "Activity Log", True),
        ("CostAlerts", None, True),
        ("Log Analytics", "Log", True),
        ("Application Insights", "Log", True),
        ("Simple Log Alert", "Log", True),
    ],
)
def test_which_monitoring_services_never_send_resolved(monitoring_service, signal_type, stateless):
    assert never_resolves(monitoring_service, signal_type) is stateless


def test_when_the_metric_alert_resolves_the_incident_no_longer_waits_on_the_activity_log_alert(storage_account):
    store = IncidentStore(storage_account)
    assert receive(metric_alert(), store, FIRED_AT).outcome == "opened"
    assert receive(activity_log_alert(), store, FIRED_AT).outcome == "joined"
    receive(metric_alert("Resolved"), store, FIRED_AT + timedelta(minutes=20))
    incident = store.get_incident("INC-1")
    assert incident.status == "monitoring"
    assert store.timeline("INC-1")[-1].text == (
        "The alert has resolved; monitoring. Service checkout does not auto-resolve: resolve the incident when "
        "satisfied"
    )


def test_an_incident_of_stateless_alerts_only_moves_to_monitoring_after_its_quiet_period(storage_account):
    store = IncidentStore(storage_account)
    fired = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
    receive(activity_log_alert(), store, fired)
    assert settle_quiet(CATALOG, store, fired + timedelta(minutes=29)) == []
    assert store.get_incident("INC-1").status == "triggered"
    (moved,) = settle_quiet(CATALOG, store, fired + timedelta(minutes=31))
    assert moved[0] == "INC-1" and store.get_incident("INC-1").status == "monitoring"
    last = store.timeline("INC-1")[-1]
    assert (last.kind, last.at, last.text) == (
        "status.changed",
        fired + timedelta(minutes=30),
        "Its alert never sends a resolution (stateless) and none has fired for 30 minutes; monitoring: resolve the "
        "incident when satisfied",
    )
    assert settle_quiet(CATALOG, store, fired + timedelta(minutes=45)) == []  # once
    # A new stateless alert reopens it, and its own quiet period starts again.
    receive(activity_log_alert("activity-2", "2026-11-23T10:00:00Z"), store, fired + timedelta(minutes=55))
    assert store.get_incident("INC-1").status == "triggered"
    assert settle_quiet(CATALOG, store, datetime(2026, 11, 23, 10, 29, tzinfo=UTC)) == []
    assert len(settle_quiet(CATALOG, store, datetime(2026, 11, 23, 10, 30, tzinfo=UTC))) == 1


def test_a_firing_metric_alert_keeps_the_incident_triggered_whatever_the_quiet_period(storage_account):
    store = IncidentStore(storage_account)
    receive(metric_alert(), store, FIRED_AT)
    receive(activity_log_alert(), store, FIRED_AT)
    assert settle_quiet(CATALOG, store, FIRED_AT + timedelta(days=2)) == []
    assert store.get_incident("INC-1").status == "triggered"


def test_the_quiet_period_is_configured_per_service_and_checked():
    assert CATALOG.service("checkout").stateless_quiet_minutes == 30
    assert CATALOG.default.stateless_quiet_minutes == 120
    assert parse_catalog({"service": [{"id": "x", "component": "X"}]}, "t").service("x").stateless_quiet_minutes == 60
    with pytest.raises(ConfigurationError, match=r"stateless_quiet_minutes: must be a whole number ≥ 0, got -1$"):
        parse_catalog({"service": [{"id": "x", "component": "X", "stateless_quiet_minutes": -1}]}, "t")


def test_through_the_api_the_metric_resolution_moves_the_incident_on(firebell, monkeypatch):
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    headers = {"x-functions-key": KEY}
    for document in (metric_alert(), activity_log_alert(), metric_alert("Resolved")):
        answer = requests.post(f"{firebell}/alerts", json=document, headers=headers, timeout=30)
        assert answer.status_code == 202, answer.text
    incident = requests.get(f"{firebell}/incidents/INC-1", headers=headers, timeout=30).json()
    assert incident["status"] == "monitoring"
    fired = [event for event in incident["timeline"] if event["kind"] == "alert.fired"]
    assert [event["data"].get("stateless", False) for event in fired] == [False, True]
