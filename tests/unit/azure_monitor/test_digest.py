"""Digesting the alertContext of each Azure Monitor monitoring service into one line and a few safe links."""

from __future__ import annotations

import contextlib
import copy
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.azure_monitor.digest import MAX_LINKS, MAX_SUMMARY, ContextDigest, Link, _digest, digest
from tests.conftest import AZURE_MONITOR
from tests.json_documents import positions, replace_at

ALERT_ID = (
    "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AlertsManagement/alerts/"
    "12345678-1234-1234-1234-1234567890ab"
)
ALERT_LINK = Link(
    "Alert in Azure portal",
    "https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/AlertDetails.ReactView/alertId~/"
    "%2Fsubscriptions%2F11111111-1111-1111-1111-111111111111%2Fproviders%2FMicrosoft.AlertsManagement%2Falerts%2F"
    "12345678-1234-1234-1234-1234567890ab",
)
# The documentation's own placeholder subscription is quoted like any other path segment.
DOCS_ALERT_LINK = Link(
    "Alert in Azure portal",
    "https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/AlertDetails.ReactView/alertId~/"
    "%2Fsubscriptions%2F%3Csubscription%20ID%3E%2Fproviders%2FMicrosoft.AlertsManagement%2Falerts%2F"
    "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
)

# Essentials published with the test-action payloads the fixtures 50-52 were cut from (alerts-payload-samples.md).
SMART_DETECTOR_ESSENTIALS = {
    "alertId": ALERT_ID,
    "alertRule": "test-SmartAlertRule",
    "severity": "Sev4",
    "signalType": "Log",
    "monitorCondition": "Fired",
    "monitoringService": "SmartDetector",
    "alertTargetIDs": [
        "/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/test-RG/providers/microsoft.insights/"
        "components/test-applicationInsights"
    ],
    "configurationItems": ["test-applicationInsights"],
    "originAlertId": "1234abcd5678efgh1234abcd5678efgh1234abcd5678efgh1234abcd5678efgh",
    "firedDateTime": "2021-10-28T19:09:09.1115084Z",
    "description": "Dependency Latency Degradation notifies you of an unusual increase in response by a dependency "
    "your app is calling (e.g. REST API or database)",
    "essentialsVersion": "1.0",
    "alertContextVersion": "1.0",
}
BUDGET_ESSENTIALS = {
    "monitoringService": "CostAlerts",
    "firedDateTime": "2025-04-15T17:53:32.996Z",
    "description": "YourspendforbudgetTest_actual_cost_budgetisnow$11,111.00exceedingyourspecifiedthreshold$25.00.",
    "essentialsVersion": "1.0",
    "alertContextVersion": "1.0",
    "alertId": "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.CostManagement/alerts/"
    "Test_Alert",
    "alertRule": None,
    "severity": None,
    "signalType": None,
    "monitorCondition": "Fired",
    "alertTargetIDs": None,
    "configurationItems": ["budgets"],
    "originAlertId": None,
}
FORECAST_ESSENTIALS = {
    **BUDGET_ESSENTIALS,
    "firedDateTime": "2025-04-15T17:55:39.04Z",
    "description": "Thetotalspendforyourbudget,Test_forcasted_budget,isforecastedtoreach$1111.11beforetheendofthe"
    "period.Thisamountexceedsyourspecifiedbudgetthresholdof$50.00.",
}


def _document(name: str) -> dict[str, Any]:
    return json.loads((AZURE_MONITOR / name).read_text(encoding="utf-8"))


def _context(name: str) -> Any:
    document = _document(name)
    return document["data"]["alertContext"] if "data" in document else document["alertContext"]


def _essentials(service: str, signal: str | None = None) -> dict[str, Any]:
    """Essentials for a published alertContext fragment, which Microsoft publishes without its envelope."""
    return {"alertId": ALERT_ID, "alertRule": "test-rule", "monitoringService": service, "signalType": signal}


def _search(name: str, key: str, criterion: int | None = None) -> Link:
    context = _context(name)
    source = context if criterion is None else context["condition"]["allOf"][criterion]
    return Link("Search results", source[key])


FULL_BODIES = {
    "00_common_schema_sample_metric_resolved.json",
    "01_common_schema_sample_with_customProperties.json",
    "53_test_action_service_health.json",
    "57_test_action_log_alert_v2.json",
    "59_test_action_metric_static_threshold.json",
}
# One case per published sample: (file, essentials for fragments, exact summary, exact links).
SAMPLE_CASES = [
    (
        "00_common_schema_sample_metric_resolved.json",
        None,
        "Percentage CPU GreaterThan 25 (Average over PT5M): 7.727",
        (DOCS_ALERT_LINK,),
    ),
    (
        "01_common_schema_sample_with_customProperties.json",
        None,
        "Percentage CPU GreaterThan 25 (Average over PT5M): 7.727",
        (DOCS_ALERT_LINK,),
    ),
    (
        "10_metric_static_threshold_platform.alertContext.json",
        _essentials("Platform", "Metric"),
        "Percentage CPU GreaterThan 25 (Average over PT5M): 31.1105",
        (ALERT_LINK,),
    ),
    (
        "11_metric_dynamic_threshold_platform.alertContext.json",
        _essentials("Platform", "Metric"),
        "Egress GreaterThan 47658 (Total over PT5M, dynamic threshold, High sensitivity): 50101",
        (ALERT_LINK,),
    ),
    (
        "12_metric_availability_test_platform.alertContext.json",
        _essentials("Platform", "Metric"),
        "Availability test myAvailabilityTest-myApplication: 5 failed locations (GreaterThan 2 over PT5M)",
        (ALERT_LINK,),
    ),
    (
        "20_log_search_v1_log_analytics.alertContext.json",
        _essentials("Log Analytics", "Log"),
        "Metric measurement Less Than 10000 (over 15 min): 2 results [Computer=INC-Gen2Alert] — Perf | where "
        'ObjectName == "Processor" and CounterName == "% Processor Time" | summarize AggregatedValue = '
        "avg(CounterValue) by bin(TimeGenerated, 5m), Computer",
        (ALERT_LINK, _search("20_log_search_v1_log_analytics.alertContext.json", "LinkToFilteredSearchResultsUI")),
    ),
    (
        "21_log_search_v1_application_insights.alertContext.json",
        _essentials("Application Insights", "Log"),
        "Metric measurement Less Than 10000 (over 15 min): 2 results [IP=1.1.1.1] — requests | where resultCode == "
        '"500" | summarize AggregatedValue = Count by bin(Timestamp, 5m), IP',
        (
            ALERT_LINK,
            _search("21_log_search_v1_application_insights.alertContext.json", "LinkToFilteredSearchResultsUI"),
        ),
    ),
    (
        "22_log_search_v2_log_alerts_v2.alertContext.json",
        _essentials("Log Alerts V2", "Log"),
        "CounterValue LowerThan 1 (Count over PT10M): 0 [Computer=TestComputer] — Heartbeat",
        (ALERT_LINK, _search("22_log_search_v2_log_alerts_v2.alertContext.json", "linkToFilteredSearchResultsUI", 0)),
    ),
    (
        "30_activity_log_administrative.alertContext.json",
        _essentials("Activity Log - Administrative", "Activity Log"),
        "Microsoft.Compute/virtualMachines/restart/action Succeeded on WCUS-R2-ActLog by "
        "22223333-cccc-4444-dddd-5555eeee6666",
        (ALERT_LINK,),
    ),
    (
        "31_activity_log_policy.alertContext.json",
        _essentials("Activity Log - Policy", "Activity Log"),
        "Policy SecurityCenterBuiltIn (vulnerabilityAssessmentMonitoring, AuditIfNotExists): "
        "Microsoft.Authorization/policies/audit/action Succeeded on /subscriptions/<GUID> by <GUID>",
        (ALERT_LINK,),
    ),
    (
        "32_activity_log_autoscale.alertContext.json",
        _essentials("Activity Log - Autoscale", "Activity Log"),
        "Autoscale Scaleup Succeeded on alexademo: 9 → 10 instances",
        (ALERT_LINK,),
    ),
    (
        "33_activity_log_security.alertContext.json",
        _essentials("Activity Log - Security", "Activity Log"),
        "Security alert Virus (Low) on testVM: Quarantined, Blocked by Windows Defender — "
        "C:\\AlertGeneration\\test.eicar",
        (ALERT_LINK,),
    ),
    (
        "34_activity_log_service_health.alertContext.json",
        _essentials("ServiceHealth", "Activity Log"),
        # communication is the documentation's "<MESSAGE>" placeholder, which reads as a tag and is dropped.
        "Maintenance (Planned): Azure Synapse Analytics Scheduled Maintenance Pending — Azure Synapse Analytics in "
        "East US",
        (ALERT_LINK,),
    ),
    (
        "35_activity_log_resource_health.alertContext.json",
        _essentials("ResourceHealth", "Activity Log"),
        "This virtual machine is stopping and deallocating as requested by an authorized user or process: "
        "Available → Unavailable (Downtime, UserInitiated)",
        (ALERT_LINK,),
    ),
    (
        "40_prometheus.alertContext.json",
        _essentials("Prometheus", "Metric"),
        "alert on SQL availability: sql_up > 0 (value 0, for PT2M) [Environment=Prod, cluster=myCluster1]",
        (ALERT_LINK,),
    ),
    (
        "50_smart_detector.alertContext.json",
        SMART_DETECTOR_ESSENTIALS,
        "Dependency Performance Degradation Detector: A degradation in the dependency duration over the last 24 "
        "hours — detected 0.45 sec, normal 0.27 sec (over the last 7 days)",
        # PresentationInsightEventRequest is a relative ARM path, not a link a person can open.
        (ALERT_LINK,),
    ),
    (
        "51_cost_budget_actual.alertContext.json",
        BUDGET_ESSENTIALS,
        "Budget Test_actual_cost_budget (Actual): spent $11,111.00, alert threshold $25.00, budget $50.00 USD",
        (),  # a Microsoft.CostManagement alert id has no AlertsManagement portal page
    ),
    (
        "52_cost_budget_forecasted.alertContext.json",
        FORECAST_ESSENTIALS,
        "Budget Test_forcasted_budget (Forecasted): forecast $1111.11, spent $999.99, alert threshold $50.00, "
        "budget $50.00 USD",
        (),
    ),
    (
        "53_test_action_service_health.json",
        None,
        "Incident (Resolved): TestActionGroup-TestServiceHealthAlert — AzureServiceName in Global — "
        "ThisisatestfromServiceHealthAlert",
        (),  # the published alertId ends in a 64-character id, not a GUID
    ),
    (
        "54_simple_log_alert.alertContext.json",
        _essentials("Simple Log Alert", "Log"),
        "Query result: 1 — exceptions | where timestamp > ago(5m) | project timestamp, operation_Name, problemId, "
        "type, outerMessage",
        (ALERT_LINK, _search("54_simple_log_alert.alertContext.json", "linkToFilteredSearchResultsUI", 0)),
    ),
    (
        "57_test_action_log_alert_v2.json",
        None,
        "Query result GreaterThan 0 (Count over PT1H): 3 [Computer=test-computer] — Heartbeat",
        (ALERT_LINK, _search("57_test_action_log_alert_v2.json", "linkToFilteredSearchResultsUI", 0)),
    ),
    (
        "59_test_action_metric_static_threshold.json",
        None,
        "Transactions GreaterThan 0 (Total over PT5M): 100 [ApiName=GetBlob]",
        (ALERT_LINK,),
    ),
]


def _sample_input(name: str, essentials: dict[str, Any] | None) -> tuple[dict[str, Any], Any]:
    if essentials is None:
        data = _document(name)["data"]
        return data["essentials"], data["alertContext"]
    return essentials, _context(name)


def test_every_published_sample_has_a_case():
    published = {path.name for path in AZURE_MONITOR.glob("*.json")}
    assert published == {name for name, *_ in SAMPLE_CASES}
    assert {name for name, essentials, *_ in SAMPLE_CASES if essentials is None} == FULL_BODIES


@pytest.mark.parametrize(("name", "essentials", "summary", "links"), SAMPLE_CASES, ids=[c[0] for c in SAMPLE_CASES])
def test_each_published_sample_is_digested_into_its_exact_summary_and_links(name, essentials, summary, links):
    essentials, context = _sample_input(name, essentials)
    result = digest(essentials, context)
    assert result.summary == summary
    assert result.links == links
    assert result == _digest(essentials, context)  # the samples never reach the safety net


def test_service_health_impacted_services_as_a_json_string_and_as_an_array_read_the_same():
    essentials, context = _sample_input("53_test_action_service_health.json", None)
    as_string = copy.deepcopy(context)
    as_string["properties"]["impactedServices"] = json.dumps(context["properties"]["impactedServices"])
    assert digest(essentials, as_string) == digest(essentials, context)
    # The published string variant, with a second service and region added, lists every service and region.
    context = _context("34_activity_log_service_health.alertContext.json")
    context["properties"]["impactedServices"] = json.dumps(
        [
            {"ImpactedRegions": [{"RegionName": "East US"}, {"RegionName": "West Europe"}], "ServiceName": "Synapse"},
            {"ImpactedRegions": [], "ServiceName": "Storage"},
        ]
    )
    assert digest(_essentials("ServiceHealth"), context).summary == (
        "Maintenance (Planned): Azure Synapse Analytics Scheduled Maintenance Pending — Synapse in East US, "
        "West Europe; Storage"
    )


def test_service_health_without_impacted_services_falls_back_to_service_and_region():
    context = _context("34_activity_log_service_health.alertContext.json")
    context["properties"]["impactedServices"] = "not json ["
    assert digest(_essentials("ServiceHealth"), context).summary == (
        "Maintenance (Planned): Azure Synapse Analytics Scheduled Maintenance Pending — Azure Synapse Analytics in "
        "East US"
    )


def test_service_health_communication_is_reduced_to_plain_text():
    context = _context("34_activity_log_service_health.alertContext.json")
    context["properties"]["communication"] = (
        "<p><strong>Summary of impact</strong>:&nbsp;Queries&nbsp;fail &amp; retry.</p>\n<p><br></p><a href='x'>more"
    )
    assert digest(_essentials("ServiceHealth"), context).summary.endswith(
        "— Azure Synapse Analytics in East US — Summary of impact : Queries fail & retry. more"
    )


@pytest.mark.parametrize("service", ["Resource Health", "ResourceHealth"])
def test_both_published_spellings_of_resource_health_are_understood(service):
    context = _context("35_activity_log_resource_health.alertContext.json")
    assert digest(_essentials(service), context).summary.endswith(": Available → Unavailable (Downtime, UserInitiated)")


def test_budget_alerts_report_whether_the_actual_or_the_forecasted_threshold_was_crossed():
    actual = digest(BUDGET_ESSENTIALS, _context("51_cost_budget_actual.alertContext.json"))
    forecasted = digest(FORECAST_ESSENTIALS, _context("52_cost_budget_forecasted.alertContext.json"))
    assert (actual.budget_threshold, forecasted.budget_threshold) == ("Actual", "Forecasted")


def test_budget_threshold_is_only_reported_for_cost_alert_budgets():
    context = _context("51_cost_budget_actual.alertContext.json")
    assert digest(_essentials("Platform"), context).budget_threshold is None
    assert digest(_essentials("Prometheus"), _context("40_prometheus.alertContext.json")).budget_threshold is None
    lower_case = copy.deepcopy(context)
    lower_case["AlertData"]["ThresholdType"] = "forecasted"
    assert digest(BUDGET_ESSENTIALS, lower_case).budget_threshold == "Forecasted"
    unknown = copy.deepcopy(context)
    unknown["AlertData"]["ThresholdType"] = "Percentage"
    assert digest(BUDGET_ESSENTIALS, unknown).budget_threshold is None
    anomaly = copy.deepcopy(context)
    anomaly["AlertCategory"] = "Anomaly"
    assert digest(BUDGET_ESSENTIALS, anomaly).budget_threshold is None


def test_an_unknown_monitoring_service_gets_a_generic_summary():
    context = _context("10_metric_static_threshold_platform.alertContext.json")
    assert digest(_essentials("Contoso Watcher"), context) == ContextDigest(
        "Contoso Watcher alert: test-rule", (ALERT_LINK,), None
    )


@pytest.mark.parametrize(
    ("essentials", "context", "summary"),
    [
        ({"monitoringService": "Platform", "alertRule": "cpu-high"}, None, "Platform alert: cpu-high"),
        ({"monitoringService": "Platform", "alertRule": "cpu-high"}, [1, 2], "Platform alert: cpu-high"),
        ({"monitoringService": "ServiceHealth", "alertRule": "sh"}, "a string", "ServiceHealth alert: sh"),
        ({"monitoringService": "Prometheus", "alertRule": 42}, {"labels": []}, "Prometheus alert: 42"),
        ({"alertRule": None, "description": "Budget X exceeded"}, {}, "Azure Monitor alert: Budget X exceeded"),
        ({"monitoringService": 7}, {}, "7 alert"),
        ({}, {}, "Azure Monitor alert"),
    ],
)
def test_malformed_or_empty_contexts_fall_back_to_the_generic_summary(essentials, context, summary):
    assert digest(essentials, context) == ContextDigest(summary, (), None)


def test_essentials_that_are_not_an_object_still_produce_a_digest():
    assert digest([], {"SearchQuery": "x"}) == ContextDigest("Azure Monitor alert", (), None)


def test_links_are_only_absolute_http_urls_unique_and_at_most_five():
    criteria = [
        {"searchQuery": f"q{index}", "linkToFilteredSearchResultsUI": f"https://portal.azure.com/#q{index}"}
        for index in range(7)
    ]
    criteria[1]["linkToFilteredSearchResultsUI"] = "javascript:alert(1)"
    criteria[1]["linkToSearchResultsAPI"] = "https://api.loganalytics.io/v1/q1"  # API only when no UI link is usable
    criteria[2]["linkToFilteredSearchResultsUI"] = "data:text/html,<b>x</b>"
    criteria[3]["linkToFilteredSearchResultsUI"] = "/relative/path"
    essentials = {
        **_essentials("Log Alerts V2", "Log"),
        "investigationLink": "https://portal.azure.com/#q0",  # the same URL as a search link: kept once
    }
    result = digest(essentials, {"conditionType": "LogQueryCriteria", "condition": {"allOf": criteria}})
    assert result.links == (
        ALERT_LINK,
        Link("Investigate in Azure portal", "https://portal.azure.com/#q0"),
        Link("Search results", "https://api.loganalytics.io/v1/q1"),
        Link("Search results", "https://portal.azure.com/#q4"),
        Link("Search results", "https://portal.azure.com/#q5"),
    )
    assert len(result.links) == MAX_LINKS


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "//evil.example/x", "ftp://x.example/f",
     "https://", "https://exa mple.com/", "https://example.com/a\nb", "http://[::1", "", 42, None],
)  # fmt: skip
def test_an_investigation_link_that_is_not_an_absolute_http_url_is_dropped(url):
    essentials = {"monitoringService": "Nope", "investigationLink": url}
    assert digest(essentials, {}).links == ()


def test_an_alert_id_that_is_not_an_alerts_management_alert_gets_no_portal_link():
    for alert_id in (
        "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/not-a-guid",
        "/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/activityLogAlerts/Test_Alert",
        "/subscriptions//providers/Microsoft.AlertsManagement/alerts/12345678-1234-1234-1234-1234567890ab",
        "subscriptions/s/providers/Microsoft.AlertsManagement/alerts/12345678-1234-1234-1234-1234567890ab",
    ):
        assert digest({"alertId": alert_id}, {}).links == ()


def test_a_long_summary_is_cut_to_the_limit_with_an_ellipsis():
    context = _context("22_log_search_v2_log_alerts_v2.alertContext.json")
    context["condition"]["allOf"][0]["searchQuery"] = "Heartbeat | where " + "Computer has 'x' and " * 40
    summary = digest(_essentials("Log Alerts V2"), context).summary
    assert len(summary) == MAX_SUMMARY
    assert summary.startswith("CounterValue LowerThan 1 (Count over PT10M): 0 [Computer=TestComputer] — Heartbeat")
    assert summary.endswith("…")


def test_many_criteria_show_the_first_five_and_count_the_rest():
    context = _context("10_metric_static_threshold_platform.alertContext.json")
    criterion = context["condition"]["allOf"][0]
    context["condition"]["allOf"] = [{**criterion, "metricName": f"m{index}"} for index in range(7)]
    context["condition"]["windowSize"] = None
    summary = digest(_essentials("Platform"), context).summary
    assert summary == "; ".join(f"m{index} GreaterThan 25 (Average): 31.1105" for index in range(5)) + " (+2 more)"


def test_failing_periods_are_shown_when_they_are_not_the_default_one_of_one():
    context = _context("11_metric_dynamic_threshold_platform.alertContext.json")
    context["condition"]["allOf"][0]["failingPeriods"] = {"numberOfEvaluationPeriods": 4, "minFailingPeriodsToAlert": 3}
    assert digest(_essentials("Platform"), context).summary == (
        "Egress GreaterThan 47658 (Total over PT5M, dynamic threshold, High sensitivity, 3 of 4 periods failing): 50101"
    )


def test_the_log_search_v1_shape_is_recognised_under_the_platform_label_used_in_the_samples():
    context = _context("20_log_search_v1_log_analytics.alertContext.json")
    assert digest(_essentials("Platform"), context).summary.startswith(
        "Metric measurement Less Than 10000 (over 15 min): 2 results"
    )


def test_text_fields_become_one_printable_line():
    context = _context("35_activity_log_resource_health.alertContext.json")
    context["properties"]["title"] = "VM\r\n\tstopped\x00\x1b[31m  by\u2028user"
    assert digest(_essentials("Resource Health"), context).summary == (
        "VM stopped [31m by user: Available → Unavailable (Downtime, UserInitiated)"
    )


def test_numbers_where_strings_are_expected_are_shown_and_numbers_are_shown_briefly():
    context = _context("10_metric_static_threshold_platform.alertContext.json")
    criterion = context["condition"]["allOf"][0]
    criterion.update(metricName=404, threshold=25.0, metricValue=0.1 + 0.2, operator=True)
    assert digest(_essentials("Platform"), context).summary == "404 25 (Average over PT5M): 0.3"
    criterion.update(metricValue=10**5000)  # more digits than Python will print: left out, not an error
    assert digest(_essentials("Platform"), context).summary == "404 25 (Average over PT5M)"
    criterion.update(metricValue=float("nan"), threshold=1e-7)
    assert digest(_essentials("Platform"), context).summary == "404 1e-07 (Average over PT5M): nan"


def test_huge_and_pathological_strings_are_digested_quickly():
    started = time.perf_counter()
    context = _context("34_activity_log_service_health.alertContext.json")
    context["properties"]["communication"] = "<" * 200_000 + "a" * 60_000
    context["properties"]["title"] = "x" * 250_000
    context["properties"]["impactedServices"] = "[" * 50_000
    result = digest(_essentials("ServiceHealth"), context)
    assert len(result.summary) == MAX_SUMMARY
    assert time.perf_counter() - started < 1.0


# ---------------------------------------------------------------- properties: never raises, always short


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(_keys(child) for child in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(child) for child in value))
    return set()


# Real key names make the generated objects reach the shape-specific code, not only the generic fallback.
_KEYS = sorted(set().union(*(_keys(list(_sample_input(name, essentials))) for name, essentials, *_ in SAMPLE_CASES)))
_SERVICES = [
    "Platform",
    "Log Analytics",
    "Application Insights",
    "Log Alerts V2",
    "Simple Log Alert",
    "Activity Log - Administrative",
    "Activity Log - Policy",
    "Activity Log - Autoscale",
    "Activity Log - Security",
    "Activity Log - Recommendation",
    "ServiceHealth",
    "Resource Health",
    "ResourceHealth",
    "SmartDetector",
    "CostAlerts",
    "Prometheus",
]
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=50)
    | st.sampled_from(["https://portal.azure.com/#x", "javascript:alert(1)", "[{}]", '[{"ServiceName": 1}]', "<p>"])
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)
_essentials_strategy = st.fixed_dictionaries(
    {"monitoringService": st.sampled_from(_SERVICES) | _json},
    optional={
        "alertRule": _json,
        "alertId": st.just(ALERT_ID) | _json,
        "signalType": st.sampled_from(["Metric", "Log", "Activity Log"]) | _json,
        "investigationLink": _json,
        "description": _json,
    },
)


def _assert_well_formed(result: ContextDigest) -> None:
    assert isinstance(result.summary, str) and 0 < len(result.summary) <= MAX_SUMMARY
    assert result.summary == " ".join(result.summary.split()) and result.summary.isprintable()
    assert len(result.links) <= MAX_LINKS
    assert len({link.url for link in result.links}) == len(result.links)
    assert all(link.url.lower().startswith(("http://", "https://")) for link in result.links)
    assert result.budget_threshold in (None, "Actual", "Forecasted")


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(essentials=_essentials_strategy | _json, context=_json)
def test_any_json_digests_without_raising_into_a_short_line(essentials, context):
    _assert_well_formed(_digest(essentials if isinstance(essentials, dict) else {}, context))
    _assert_well_formed(digest(essentials, context))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(SAMPLE_CASES), data=st.data())
def test_published_contexts_with_random_parts_replaced_digest_without_raising(case, data):
    name, essentials, *_ = case
    essentials, context = _sample_input(name, essentials)
    context = copy.deepcopy(context)
    paths = positions(context)
    for path in data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=4)):
        with contextlib.suppress(KeyError, IndexError, TypeError):  # an earlier replacement removed this position
            replace_at(context, path, data.draw(_json))
    _assert_well_formed(_digest(essentials, context))
