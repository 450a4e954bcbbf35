"""A component's status over an incident's life comes from its timeline: the history, the impact and the uptime
figure read the same spans before, during and after resolution."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.catalog.services import Catalog, Service
from shared.incidents.incident import Incident
from shared.incidents.timeline import COMPONENT_STATUS_SET, SEVERITY_CHANGED, TimelineEvent
from shared.statuspage.component_history import Disruption
from shared.statuspage.component_spans import incident_spans
from shared.statuspage.public_view import public_incident, status_page
from shared.statuspage.site import render_site
from tests.unit.statuspage.ids import EVERY_SEVERITY_AT_ONCE, pid

CATALOG = Catalog(
    services=(Service("checkout", "Checkout"),),
    default=Service("default", "Other services"),
    publication=EVERY_SEVERITY_AT_ONCE,
)
T0 = datetime(2026, 3, 29, 10, 0, tzinfo=UTC)
WINDOW_MINUTES = 89 * 24 * 60  # the 90-day window up to 00:00 on T0's day…


def _incident(**changes: object) -> Incident:
    base = Incident(
        id="INC-4",
        number=4,
        title="internal",
        service="checkout",
        components=("Checkout",),
        severity=3,  # degraded performance by its severity
        status="investigating",
        source="monitoring",
        source_detail="internal",
        detected_at=T0,
        declared_at=T0,
        updated_at=T0,
        acknowledged_at=T0,
    )
    return replace(base, **changes)


def _event(minute: int, kind: str, data: dict) -> TimelineEvent:
    at = T0 + timedelta(minutes=minute)
    return TimelineEvent("INC-4", f"e{minute}", kind, at, at, "Priya", "teams", "internal", False, data)


PARTIAL_AT_20 = [_event(20, COMPONENT_STATUS_SET, {"component": "Checkout", "status": "partial_outage"})]
OPEN_AT_40 = _incident(component_overrides=(("Checkout", "partial_outage"),), updated_at=T0 + timedelta(minutes=20))
RESOLVED_AT_60 = replace(
    OPEN_AT_40, status="resolved", resolved_at=T0 + timedelta(minutes=60), updated_at=T0 + timedelta(minutes=60)
)


def test_a_component_set_to_partial_outage_is_degraded_until_then_and_partial_after_until_resolution():
    assert incident_spans(RESOLVED_AT_60, PARTIAL_AT_20, T0 + timedelta(hours=2)) == (
        Disruption("Checkout", "degraded_performance", T0, T0 + timedelta(minutes=20)),
        Disruption("Checkout", "partial_outage", T0 + timedelta(minutes=20), T0 + timedelta(minutes=60)),
    )


def test_a_partial_outage_stays_partial_and_major_impact_once_resolved():
    during = public_incident(OPEN_AT_40, PARTIAL_AT_20, now=T0 + timedelta(minutes=40))
    after = public_incident(RESOLVED_AT_60, PARTIAL_AT_20, now=T0 + timedelta(hours=2))
    assert (during.component_statuses, during.impact) == ((("Checkout", "partial_outage"),), "major")
    assert (after.component_statuses, after.impact) == ((("Checkout", "partial_outage"),), "major")


def test_the_history_html_json_and_uptime_count_only_the_minutes_of_partial_outage():
    now = T0 + timedelta(hours=2)
    page = status_page("Acme Status", CATALOG, [RESOLVED_AT_60], {"INC-4": PARTIAL_AT_20}, (), now)
    checkout = page.components[0]
    today = checkout.history.days[-1]
    assert (today.status, today.minutes) == ("partial_outage", (("partial_outage", 40), ("degraded_performance", 20)))
    window = WINDOW_MINUTES + 12 * 60  # …and the 12 hours of today so far
    expected_uptime = int((1 - 40 / window) * 10000) / 100
    assert checkout.history.uptime == expected_uptime == 99.96
    files = {f.path: f.body.decode() for f in render_site(page)}
    index = files["index.html"]
    assert "Partial outage, 40 min of outage; 20 min degraded performance" in index
    assert "99.96 % uptime" in index
    assert "Minor impact" not in files[f"incidents/{pid('INC-4')}.html"]
    (listed,) = json.loads(files["api/v2/incidents.json"])["incidents"]
    assert (listed["id"], listed["impact"], listed["status"]) == (pid("INC-4"), "major", "resolved")


def test_while_open_the_partial_outage_is_painted_from_when_it_was_set_not_over_the_whole_incident():
    now = T0 + timedelta(minutes=40)
    page = status_page("Acme Status", CATALOG, [OPEN_AT_40], {"INC-4": PARTIAL_AT_20}, (), now)
    today = page.components[0].history.days[-1]
    assert today.minutes == (("partial_outage", 20), ("degraded_performance", 20))
    assert page.components[0].status == "partial_outage"
    summary = json.loads({f.path: f.body for f in render_site(page)}["api/v2/summary.json"])
    assert [(c["name"], c["status"]) for c in summary["components"]] == [
        ("Checkout", "partial_outage"),
        ("Other services", "operational"),
    ]


def test_a_severity_change_moves_components_without_an_override_and_handing_back_follows_the_severity():
    timeline = [
        _event(10, SEVERITY_CHANGED, {"from": 3, "to": 1}),
        _event(20, COMPONENT_STATUS_SET, {"component": "Checkout", "status": "partial_outage"}),
        _event(30, COMPONENT_STATUS_SET, {"component": "Checkout", "status": None}),
    ]
    resolved = _incident(
        severity=1, status="resolved", resolved_at=T0 + timedelta(minutes=50), updated_at=T0 + timedelta(minutes=50)
    )
    assert [(s.status, s.start.minute, s.end.minute) for s in incident_spans(resolved, timeline, T0)] == [
        ("degraded_performance", 0, 10),
        ("major_outage", 10, 20),
        ("partial_outage", 20, 30),
        ("major_outage", 30, 50),
    ]


def test_without_its_timeline_a_resolved_incident_shows_the_worse_of_its_severity_and_the_last_word():
    said_operational = replace(RESOLVED_AT_60, severity=1, component_overrides=(("Checkout", "operational"),))
    assert public_incident(said_operational).component_statuses == (("Checkout", "major_outage"),)
    assert public_incident(RESOLVED_AT_60).component_statuses == (("Checkout", "partial_outage"),)
