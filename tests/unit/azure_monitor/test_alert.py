"""Parsing the Azure Monitor common alert schema into a normalized alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.azure_monitor.alert import alert_key, parse_alert
from shared.catalog.services import load_catalog
from shared.core.errors import InvalidInput, PayloadTooLarge
from tests.conftest import ROOT, sample_bytes, sample_json
from tests.unit.azure_monitor.test_digest import BUDGET_ESSENTIALS, SAMPLE_CASES, _sample_input


def test_a_fired_metric_alert_from_the_test_action_group_is_normalized():
    alert = parse_alert(sample_bytes("59_test_action_metric_static_threshold.json"))
    assert alert.key == "12345678-1234-1234-1234-1234567890ab"
    assert alert.rule == "test-metricAlertRule"
    assert alert.severity == "Sev4"
    assert alert.condition == "Fired"
    assert alert.monitoring_service == "Platform"
    assert alert.signal_type == "Metric"
    assert alert.targets == (
        "/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/test-RG/providers/"
        "microsoft.storage/storageaccounts/test-storageAccount",
    )
    assert alert.configuration_items == ("test-storageAccount",)
    assert alert.fired_at == datetime(2025, 4, 15, 18, 17, 12, 851000, tzinfo=UTC)
    assert alert.resolved_at is None
    assert alert.custom_properties == {"customKey1": "value1", "customKey2": "value2"}


def test_a_resolved_alert_keeps_seven_digit_fractions_and_its_resolved_time():
    alert = parse_alert(sample_bytes("00_common_schema_sample_metric_resolved.json"))
    assert alert.condition == "Resolved"
    assert alert.key == "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
    assert alert.fired_at == datetime(2019, 3, 22, 13, 58, 24, 371321, tzinfo=UTC)
    assert alert.resolved_at == datetime(2019, 3, 22, 14, 3, 16, 224631, tzinfo=UTC)
    assert alert.custom_properties == {}


def test_a_log_alert_v2_from_the_test_action_group_is_normalized():
    alert = parse_alert(sample_bytes("57_test_action_log_alert_v2.json"))
    assert alert.monitoring_service == "Log Alerts V2"
    assert alert.signal_type == "Log"
    assert alert.rule == "test-logAlertRule-v2"


def test_alert_key_falls_back_to_a_stable_hash_when_the_alert_id_is_not_a_plain_guid():
    origin = "3f2d4487_PipeLineAlertRG_microsoft.insights_metricAlerts_rule"
    key = alert_key("", origin, "rule", "2019-03-22T13:58:24Z")
    assert key == alert_key("", origin, "other rule", "2019-03-22T14:00:00Z")
    assert len(key) == 32 and all(c in "0123456789abcdef" for c in key)
    unsafe = alert_key("/subscriptions/x/alerts/has#hash", None, None, None)
    assert len(unsafe) == 32 and unsafe != alert_key("/subscriptions/x/alerts/y", None, None, None)


def test_an_alert_known_only_by_its_rule_gets_a_new_key_each_time_it_fires():
    first = alert_key("", None, "disk-full", "2026-11-23T10:00:00Z")
    assert first == alert_key("", None, "disk-full", "2026-11-23T10:00:00Z")  # its own resolution joins it
    assert first != alert_key("", None, "disk-full", "2026-11-23T11:00:00Z")  # a later firing is a new alert


def _mutated(**essentials_changes: object) -> bytes:
    document = sample_json("59_test_action_metric_static_threshold.json")
    for name, value in essentials_changes.items():
        if value is _DELETE:
            del document["data"]["essentials"][name]
        else:
            document["data"]["essentials"][name] = value
    return json.dumps(document).encode()


_DELETE = object()


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object, not list"),
        (b'{"schemaId": "Microsoft.Insights/activityLogs", "data": {}}', "schemaId"),
        (b'{"schemaId": "azureMonitorCommonAlertSchema"}', "data must be an object, but it is missing"),
        (
            b'{"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": []}}',
            "data.essentials must be an object, but it is a list",
        ),
        (_mutated(severity=3), "data.essentials.severity must be a string, got 3"),
        (_mutated(severity="Sev9"), "Sev0 to Sev4"),
        (_mutated(monitorCondition="Exploded"), "monitorCondition must be 'Fired' or 'Resolved'"),
        (_mutated(monitorCondition=_DELETE), "monitorCondition must be a string, got missing"),
        (_mutated(alertTargetIDs="one"), "alertTargetIDs must be a list of strings"),
        (_mutated(firedDateTime="yesterday"), "firedDateTime is not an ISO 8601 time"),
        (_mutated(alertId=_DELETE, originAlertId=_DELETE, alertRule=_DELETE), "needs an alertId"),
        (b"[" * 100_000, "not valid JSON"),
        (b'{"n": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (_mutated(firedDateTime="9999-12-31T23:59:59-01:00"), "firedDateTime is not an ISO 8601 time"),
    ],
)
def test_bad_alert_bodies_are_rejected_with_a_detail_naming_the_problem(body: bytes, names: str):
    with pytest.raises(InvalidInput) as raised:
        parse_alert(body)
    assert names in raised.value.detail


def test_a_body_over_256_kb_is_too_large():
    with pytest.raises(PayloadTooLarge) as raised:
        parse_alert(b" " * (256 * 1024 + 1))
    assert "262145 bytes" in raised.value.detail


def test_long_descriptions_and_target_lists_are_bounded_before_anything_is_stored():
    alert = parse_alert(_mutated(description="d" * 10_000, alertTargetIDs=[f"/r/{n}" for n in range(500)]))
    assert len(alert.description) == 2000 and len(alert.targets) == 20
    assert alert.description == "d" * 1975 + "… [cut: 8,025 characters]"


def test_over_long_names_are_cut_with_a_marker_never_refused_because_azure_monitor_does_not_retry_a_400():
    long_id = "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/" + "i" * 2000
    alert = parse_alert(
        _mutated(alertRule="r" * 1025, alertTargetIDs=["t" * 12_000] * 3, alertId=long_id, monitoringService="m" * 5000)
    )
    assert alert.rule == "r" * 1002 + "… [cut: 23 characters]"
    assert alert.targets == ("t" * 998 + "… [cut: 11,002 characters]",) * 3
    assert (len(alert.alert_id), len(alert.monitoring_service)) == (1024, 1024)
    # The key comes from the whole id: another id alike in its first 1024 characters is another alert.
    assert alert.key != parse_alert(_mutated(alertId=long_id + "j")).key


@pytest.mark.parametrize(
    ("field", "raw", "stored"),
    [
        ("alertRule", "cpu \ud800 high", "cpu \ufffd high"),
        ("alertRule", "cpu \ufffe\uffff\U0001fffe", "cpu \ufffd\ufffd\ufffd"),
        ("alertRule", "\u202eelur\u202c rule\x00\x1b[31m", "elur rule\ufffd\ufffd[31m"),
        ("alertRule", "tab\tnew\nline", "tab new line"),
        ("description", "line one\r\nline two\x85three\x07", "line one\nline two\nthree\ufffd"),
        ("monitoringService", "Platform\ud83d", "Platform\ufffd"),
        ("signalType", "Metric\u2066", "Metric"),
    ],
)
def test_odd_characters_in_alert_text_are_cleaned_never_refused(field, raw, stored):
    alert = parse_alert(_mutated(**{field: raw}))
    attribute = {"alertRule": "rule", "monitoringService": "monitoring_service", "signalType": "signal_type"}
    assert getattr(alert, attribute.get(field, field)) == stored


def test_odd_characters_in_targets_ids_and_custom_properties_are_cleaned():
    document = sample_json("59_test_action_metric_static_threshold.json")
    essentials = document["data"]["essentials"]
    essentials["alertId"] = "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/\ud800"
    essentials["alertTargetIDs"] = ["/subscriptions/\udfff/rg", "ok\u200f"]
    essentials["configurationItems"] = ["vm\uffff"]
    document["data"]["customProperties"] = {"k\ud800": "v\x00"}
    alert = parse_alert(json.dumps(document).encode())  # json.dumps escapes the lone surrogates: valid JSON
    assert alert.alert_id.endswith("/alerts/\ufffd") and len(alert.key) == 32
    assert alert.targets == ("/subscriptions/\ufffd/rg", "ok")
    assert alert.configuration_items == ("vm\ufffd",)
    assert alert.custom_properties == {"k\ufffd": "v\ufffd"}


def _enveloped(essentials: dict, context: object) -> bytes:
    """A published alertContext inside a complete webhook body (the test action group's envelope)."""
    document = sample_json("59_test_action_metric_static_threshold.json")
    document["data"]["essentials"].update(
        {name: value for name, value in essentials.items() if name in ("monitoringService", "signalType")},
        severity=essentials.get("severity", "Sev2"),
    )
    document["data"]["alertContext"] = context
    return json.dumps(document).encode()


@pytest.mark.parametrize(("name", "essentials", "summary", "links"), SAMPLE_CASES, ids=[c[0] for c in SAMPLE_CASES])
def test_every_published_sample_parses_into_an_alert_with_its_summary(name, essentials, summary, links):
    essentials, context = _sample_input(name, essentials)
    alert = parse_alert(_enveloped(essentials, context))
    assert alert.summary == summary
    assert alert.monitoring_service == (essentials.get("monitoringService") or "Unknown")


@pytest.mark.parametrize(
    ("fixture", "threshold", "severity"),
    [
        ("51_cost_budget_actual.alertContext.json", "Actual", 2),
        ("52_cost_budget_forecasted.alertContext.json", "Forecasted", 3),
    ],
)
def test_budget_alerts_without_a_severity_map_by_threshold_type(fixture, threshold, severity):
    essentials, context = _sample_input(fixture, BUDGET_ESSENTIALS)
    alert = parse_alert(_enveloped({**essentials, "severity": None}, context))
    assert (alert.severity, alert.budget_threshold) == (None, threshold)
    assert load_catalog(ROOT / "config").severity.for_alert(alert.severity, alert.budget_threshold) == severity


def test_an_unknown_monitoring_service_is_accepted_with_a_generic_summary():
    alert = parse_alert(_enveloped({"monitoringService": "Contoso Watcher"}, {"anything": [1, 2, 3]}))
    assert (alert.monitoring_service, alert.summary) == (
        "Contoso Watcher",
        "Contoso Watcher alert: test-metricAlertRule",
    )
