"""The service catalog decides which service an alert belongs to, and rejects bad configuration clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.alert import parse_alert
from shared.catalog import load_catalog, parse_catalog
from shared.errors import ConfigurationError
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


def test_the_service_custom_property_wins():
    alert = _alert("00_common_schema_sample_metric_resolved.json", customProperties={"service": "checkout"})
    assert CATALOG.service_for(alert).id == "checkout"


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
