"""The service catalog decides which service an alert belongs to, and rejects bad configuration clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions import context
from shared.azure_monitor.alert import parse_alert
from shared.catalog.services import load_catalog, parse_catalog
from shared.core.errors import ConfigurationError
from tests.conftest import ROOT, sample_json

CATALOG = parse_catalog(
    {
        "default": {"component": "Everything else"},
        "service": [
            {"id": "checkout", "component": "Checkout", "rule_patterns": ["checkout-*"]},
            {"id": "storage", "component": "File storage", "resource_groups": ["TEST-rg"]},
            {
                "id": "vms",
                "component": "Build agents",
                "resource_id_prefixes": ["/subscriptions/<subscription ID>/resourcegroups/pipelinealertrg/"],
            },
        ],
    },
    "test",
)


def _alert(name: str, **changes: object):
    document = sample_json(name)
    document["data"]["essentials"].update(changes.pop("essentials", {}))
    document["data"].update(changes)
    return parse_alert(json.dumps(document).encode())


def test_resource_group_matches_case_insensitively():
    assert CATALOG.service_for(_alert("59_test_action_metric_static_threshold.json")).id == "storage"


def test_resource_id_prefix_matches():
    assert CATALOG.service_for(_alert("00_common_schema_sample_metric_resolved.json")).id == "vms"


def test_rule_name_pattern_matches_before_later_rules():
    alert = _alert("59_test_action_metric_static_threshold.json", essentials={"alertRule": "Checkout-latency"})
    assert CATALOG.service_for(alert).id == "checkout"


def test_the_service_custom_property_wins_over_every_other_rule():
    alert = _alert("00_common_schema_sample_metric_resolved.json", customProperties={"service": "checkout"})
    assert CATALOG.service_for(alert).id == "checkout"
    # test-RG would match 'storage' first in file order; the property names 'vms', later in the file.
    targeted = _alert("59_test_action_metric_static_threshold.json", customProperties={"service": "vms"})
    assert CATALOG.service_for(targeted).id == "vms"


def test_unmatched_alerts_go_to_the_default_service():
    alert = _alert("00_common_schema_sample_metric_resolved.json", essentials={"alertTargetIDs": []})
    service = CATALOG.service_for(alert)
    assert (service.id, service.component) == ("default", "Everything else")


def test_the_shipped_example_catalog_is_valid():
    catalog = load_catalog(ROOT / "config")
    assert [service.id for service in catalog.services] == ["checkout", "build-agents"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"service": [{"component": "X"}]}, "test: service[0].id: must be a non-empty string, got None"),
        (
            {"service": [{"id": "a", "component": "A"}, {"id": "a", "component": "B"}]},
            "service[1].id: 'a' is used twice",
        ),
        (
            {"service": [{"id": "a", "component": "A", "resource_groups": "rg"}]},
            "service[0].resource_groups: must be a list",
        ),
        ({"service": {"id": "a"}}, "'service' must be an array of tables"),
        ({"default": {"component": ""}}, "test: default.component: must be a non-empty string"),
    ],
)
def test_invalid_catalogs_name_the_file_the_key_and_the_problem(document: dict, message: str):
    with pytest.raises(ConfigurationError) as raised:
        parse_catalog(document, "test")
    assert message in raised.value.detail


def test_an_unreadable_catalog_file_names_the_file(tmp_path: Path):
    (tmp_path / "services.toml").write_text("[[service]\nid = ", encoding="utf-8")
    with pytest.raises(ConfigurationError) as raised:
        load_catalog(tmp_path)
    assert str(tmp_path / "services.toml") in raised.value.detail and "not valid TOML" in raised.value.detail
    with pytest.raises(ConfigurationError, match="file not found"):
        load_catalog(tmp_path / "missing")


def test_the_configuration_check_at_start_up_names_file_key_and_problem(tmp_path: Path, monkeypatch):
    (tmp_path / "services.toml").write_text('[[service]]\nid = "x"\ncomponent = "X"\ngroup_window = 5\n')
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")  # storage is checked too: set
    monkeypatch.setenv("FIREBELL_ENTRA_TENANT_ID", "3f6b1c2e-8d4a-4e5b-9c7d-1a2b3c4d5e6f")
    monkeypatch.delenv("FIREBELL_ENTRA_AUDIENCE", raising=False)
    context.reset()
    try:
        problems = context.check()
    finally:
        context.reset()
    assert problems[0] == (
        f"{tmp_path / 'services.toml'}: service[0].group_window: unknown key; expected one of area_path, auto_resolve, "
        "component, cost_per_minute, group_by, group_window_minutes, id, min_severity, public, resource_groups, "
        "resource_id_prefixes, roster, rule_patterns, runbook_url, stateless_quiet_minutes"
    )
    assert "FIREBELL_ENTRA_AUDIENCE" in problems[1]


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ({"group_by": "team"}, "service[0].group_by: must be one of service, rule, alert, got 'team'"),
        ({"min_severity": 5}, "service[0].min_severity: must be a severity from 1 (worst) to 4, got 5"),
        ({"auto_resolve": "yes"}, "service[0].auto_resolve: must be true or false, got 'yes'"),
        ({"runbook_url": "javascript:alert(1)"}, "service[0].runbook_url: must be an http(s) URL"),
        ({"group_window_minutes": -5}, "service[0].group_window_minutes: must be a whole number ≥ 0, got -5"),
        ({"cost_per_minute": "lots"}, "service[0].cost_per_minute: must be a number ≥ 0, got 'lots'"),
        ({"cost_per_minute": -1.5}, "service[0].cost_per_minute: must be a number ≥ 0, got -1.5"),
        ({"cost_per_minute": float("nan")}, "service[0].cost_per_minute: must be a number ≥ 0, got nan"),
        ({"cost_per_minute": float("inf")}, "service[0].cost_per_minute: must be a number ≥ 0, got inf"),
    ],
)
def test_invalid_service_policies_are_refused(service: dict, message: str):
    with pytest.raises(ConfigurationError) as raised:
        parse_catalog({"service": [{"id": "a", "component": "A", **service}]}, "test")
    assert message in raised.value.detail


def test_a_severity_policy_can_be_configured_and_typos_in_it_are_errors():
    catalog = parse_catalog({"severity": {"Sev3": 3, "budget_actual": "SEV1"}}, "test")
    assert catalog.severity.for_alert("Sev3") == 3 and catalog.severity.for_alert(None, "Actual") == 1
    assert catalog.severity.for_alert("Sev0") == 1 and catalog.severity.for_alert(None) == 3
    with pytest.raises(ConfigurationError, match=r"test: severity\.Sev5: unknown key"):
        parse_catalog({"severity": {"Sev5": 1}}, "test")
