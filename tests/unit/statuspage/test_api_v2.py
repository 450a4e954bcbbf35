"""The JSON API speaks Atlassian Statuspage's public format: the same documents, keys, nesting and types as the
real pages sampled in tests/fixtures/statuspage/, so existing Statuspage clients read it unchanged."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.catalog.services import Catalog, Service
from shared.incidents.incident import Incident
from shared.incidents.timeline import PUBLIC_UPDATE, TimelineEvent
from shared.statuspage.api_v2 import PATHS, documents, public_id
from shared.statuspage.maintenance import Maintenance
from shared.statuspage.public_view import status_page
from shared.statuspage.site import render_site
from tests.conftest import SAMPLES
from tests.unit.statuspage.ids import EVERY_SEVERITY_AT_ONCE, pid

STATUSPAGE = SAMPLES / "statuspage"
CATALOG = Catalog(
    publication=EVERY_SEVERITY_AT_ONCE,
    services=(Service("checkout", "Checkout"), Service("search", "Search"), Service("login", "Login")),
    default=Service("default", "Other services"),
)
URL = "https://status.example.com"
NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
T0 = NOW - timedelta(hours=2)


def _incident(number: int, **changes: Any) -> Incident:
    base = Incident(
        id=f"INC-{number}",
        number=number,
        title="internal title",
        service="checkout",
        components=("Checkout",),
        severity=2,
        status="investigating",
        source="monitoring",
        source_detail="cpu-high",
        detected_at=T0,
        declared_at=T0,
        updated_at=T0 + timedelta(minutes=20),
    )
    return replace(base, **changes)


def _update(incident: str, minute: int, status: str, words: str) -> TimelineEvent:
    at = T0 + timedelta(minutes=minute)
    data = {"status": status, "public_text": words, "next_update_at": None}
    return TimelineEvent(incident, f"u{minute}", PUBLIC_UPDATE, at, at, "Priya", "teams", "Priya posted", True, data)


def _maintenance(ident: str, start: timedelta, hours: int = 2, **changes: Any) -> Maintenance:
    base = Maintenance(
        id=ident,
        name="Database upgrade",
        components=("Login",),
        scheduled_for=NOW + start,
        scheduled_until=NOW + start + timedelta(hours=hours),
        created_at=NOW - timedelta(days=2),
        updated_at=NOW - timedelta(days=2),
    )
    return replace(base, **changes)


def _busy_page():
    """Every kind of object the API has: open and resolved incidents (one with overrides), maintenance windows in
    progress, upcoming, completed and cancelled."""
    incidents = [
        _incident(1, status="resolved", resolved_at=T0 + timedelta(minutes=50), updated_at=T0 + timedelta(minutes=50)),
        _incident(
            2,
            severity=1,
            components=("Checkout", "Search"),
            component_overrides=(("Search", "degraded_performance"),),
            status="monitoring",
        ),
    ]
    timelines = {
        "INC-1": [_update("INC-1", 10, "identified", "A bad deploy; rolling back.")],
        "INC-2": [
            _update("INC-2", 5, "identified", "Card payments fail."),
            _update("INC-2", 15, "monitoring", "Fixed; watching."),
        ],
    }
    maintenances = [
        _maintenance("MNT-1", -timedelta(hours=1), description="Upgrading the login database."),
        _maintenance("MNT-2", timedelta(days=1)),
        _maintenance("MNT-3", -timedelta(days=1)),
        _maintenance("MNT-4", -timedelta(hours=5), cancelled_at=NOW - timedelta(hours=6)),
    ]
    return status_page("Acme Status", CATALOG, incidents, timelines, maintenances, NOW, URL)


# --- the shape of Statuspage's documents, learned from the samples ----------------------------------------------

_KIND_OF_LIST = {
    "components": "component",
    "incidents": "incident",
    "incident_updates": "incident_update",
    "affected_components": "affected_component",
    "scheduled_maintenances": "scheduled_maintenance",
}
_KIND_OF_KEY = {"page": "page", "status": "status"}


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _learn(value: Any, kind: str, kinds: dict[str, dict[str, set[str]]]) -> None:
    """Record, per kind of object, every key the samples use and every type each key takes."""
    fields = kinds.setdefault(kind, {})
    for key, child in value.items():
        fields.setdefault(key, set()).add(_type(child))
        if isinstance(child, dict):
            _learn(child, _KIND_OF_KEY[key], kinds)
        elif isinstance(child, list):
            for item in child:
                _learn(item, _KIND_OF_LIST[key], kinds)


def _sample(name: str) -> dict:
    return json.loads((STATUSPAGE / name).read_text(encoding="utf-8"))


SAMPLE_FOR = {
    "api/v2/summary.json": "summary_example.json",
    "api/v2/status.json": "status_example.json",
    "api/v2/components.json": "components_example.json",
    "api/v2/incidents.json": "incidents_example.json",
    "api/v2/incidents/unresolved.json": "incidents_example.json",
    "api/v2/scheduled-maintenances.json": "scheduled_maintenances_example.json",
    "api/v2/scheduled-maintenances/upcoming.json": "scheduled_maintenances_example.json",
    "api/v2/scheduled-maintenances/active.json": "scheduled_maintenances_example.json",
}
KINDS: dict[str, dict[str, set[str]]] = {}
for _name in sorted(p.name for p in STATUSPAGE.glob("*.json")):
    _learn(_sample(_name), "document", KINDS)
# A scheduled maintenance is an incident with a window in Statuspage's model (clients type it `Incident & {…}`), so
# the fields they share take the types either sample shows (the incident samples happen to have no monitoring_at).
for _key in KINDS["incident"].keys() & KINDS["scheduled_maintenance"].keys():
    KINDS["incident"][_key] = KINDS["scheduled_maintenance"][_key] = (
        KINDS["incident"][_key] | KINDS["scheduled_maintenance"][_key]
    )


def _conforms(value: dict, kind: str, where: str, seen: set[str]) -> None:
    """Same keys as Statuspage's objects of that kind, each with a type Statuspage uses for it, all the way down."""
    seen.add(kind)
    expected = KINDS[kind]
    assert set(value) == set(expected), f"{where}: keys differ: {sorted(set(value) ^ set(expected))}"
    for key, child in value.items():
        assert _type(child) in expected[key], f"{where}.{key}: {_type(child)} not in {expected[key]}"
        if isinstance(child, dict):
            _conforms(child, _KIND_OF_KEY[key], f"{where}.{key}", seen)
        elif isinstance(child, list):
            for index, item in enumerate(child):
                _conforms(item, _KIND_OF_LIST[key], f"{where}.{key}[{index}]", seen)


def test_every_document_has_statuspages_keys_and_types_all_the_way_down():
    published = {f.path: json.loads(f.body) for f in render_site(_busy_page()) if f.path.startswith("api/")}
    assert sorted(published) == sorted(PATHS)
    seen: set[str] = set()
    for path, document in published.items():
        assert set(document) == set(_sample(SAMPLE_FOR[path])), path
        for key, child in document.items():
            if isinstance(child, dict):
                _conforms(child, _KIND_OF_KEY[key], f"{path}:{key}", seen)
            else:
                for index, item in enumerate(child):
                    _conforms(item, _KIND_OF_LIST[key], f"{path}:{key}[{index}]", seen)
    # The busy page exercised every kind of object the samples know.
    assert seen == set(KINDS) - {"document"}


def test_the_shape_check_catches_a_missing_key_and_a_wrong_type():
    component = documents(_busy_page())["api/v2/components.json"]["components"][0]
    with pytest.raises(AssertionError, match="keys differ"):
        _conforms({k: v for k, v in component.items() if k != "showcase"}, "component", "c", set())
    with pytest.raises(AssertionError, match="position"):
        _conforms({**component, "position": "1"}, "component", "c", set())


def test_the_page_object_names_the_site_in_utc_with_the_datas_last_update():
    page = _busy_page()
    assert documents(page)["api/v2/status.json"]["page"] == {
        "id": public_id("page", URL),
        "name": "Acme Status",
        "url": URL,
        "time_zone": "Etc/UTC",
        "updated_at": "2026-03-29T11:00:00.000Z",  # MNT-1 started then: the newest change
    }


def test_ids_are_stable_statuspage_style_and_derived_from_names():
    first = documents(_busy_page())["api/v2/components.json"]["components"]
    again = documents(_busy_page())["api/v2/components.json"]["components"]
    assert [c["id"] for c in first] == [c["id"] for c in again] == [public_id("component", c["name"]) for c in first]
    assert len({c["id"] for c in first}) == 4
    assert all(re.fullmatch(r"[0-9a-z]{12}", c["id"]) for c in first)
    assert public_id("component", "Checkout") != public_id("page", "Checkout")


def test_components_show_severity_overrides_and_maintenance_in_catalog_order():
    components = documents(_busy_page())["api/v2/components.json"]["components"]
    assert [(c["name"], c["status"], c["position"]) for c in components] == [
        ("Checkout", "major_outage", 1),  # SEV1
        ("Search", "degraded_performance", 2),  # overridden by the communication coordinator
        ("Login", "under_maintenance", 3),  # MNT-1 is in progress
        ("Other services", "operational", 4),
    ]
    assert components[2]["updated_at"] == "2026-03-29T11:00:00.000Z"


def test_status_rolls_up_like_statuspage():
    def status(incidents, maintenances=()):
        page = status_page("Acme Status", CATALOG, incidents, None, maintenances, NOW, URL)
        return documents(page)["api/v2/status.json"]["status"]

    assert status([]) == {"indicator": "none", "description": "All Systems Operational"}
    assert status([_incident(1, severity=3)]) == {"indicator": "minor", "description": "Partially Degraded Service"}
    assert status([_incident(1, severity=2)]) == {"indicator": "major", "description": "Partial System Outage"}
    assert status([_incident(1, severity=1)]) == {"indicator": "critical", "description": "Major System Outage"}
    maintenance = [_maintenance("MNT-1", -timedelta(hours=1))]
    assert status([], maintenance) == {"indicator": "maintenance", "description": "Service Under Maintenance"}
    assert status([_incident(1, severity=3)], maintenance)["indicator"] == "minor"
    # The coordinator says customers are fine: the incident stays listed, with no impact.
    calm = _incident(1, severity=1, component_overrides=(("Checkout", "operational"),))
    assert status([calm]) == {"indicator": "none", "description": "All Systems Operational"}


def test_an_incident_in_full_statuspage_form():
    incident = _incident(
        7,
        components=("Checkout",),
        status="resolved",
        resolved_at=T0 + timedelta(minutes=50),
        updated_at=T0 + timedelta(minutes=51),
    )
    timeline = [_update("INC-7", 10, "monitoring", "A fix is out; watching.")]
    page = status_page("Acme Status", CATALOG, [incident], {"INC-7": timeline}, (), NOW, URL)
    (published,) = documents(page)["api/v2/incidents.json"]["incidents"]
    checkout = {
        "id": public_id("component", "Checkout"),
        "name": "Checkout",
        "status": "operational",
        "created_at": "2026-03-29T10:00:00.000Z",
        "updated_at": "2026-03-29T10:50:00.000Z",
        "position": 1,
        "description": None,
        "showcase": True,
        "start_date": None,
        "group_id": None,
        "page_id": public_id("page", URL),
        "group": False,
        "only_show_if_degraded": False,
    }

    def update(key: str, at: str, status: str, body: str, old: str, new: str) -> dict:
        return {
            "id": public_id("update", f"{pid('INC-7')}/{key}"),
            "status": status,
            "body": body,
            "incident_id": pid("INC-7"),
            "created_at": at,
            "updated_at": at,
            "display_at": at,
            "affected_components": [{"code": checkout["id"], "name": "Checkout", "old_status": old, "new_status": new}],
            "deliver_notifications": True,
            "custom_tweet": None,
            "tweet_id": None,
        }

    assert published == {
        "id": pid("INC-7"),
        "name": "Issue affecting Checkout",
        "status": "resolved",
        "created_at": "2026-03-29T10:00:00.000Z",
        # Its state changed once more at 10:51 (internally: nothing public changes after the resolution at 10:50).
        "updated_at": "2026-03-29T10:50:00.000Z",
        "monitoring_at": "2026-03-29T10:10:00.000Z",
        "resolved_at": "2026-03-29T10:50:00.000Z",
        "impact": "major",
        "shortlink": f"https://status.example.com/incidents/{pid('INC-7')}.html",
        "started_at": "2026-03-29T10:00:00.000Z",
        "page_id": public_id("page", URL),
        "incident_updates": [
            update(
                "resolved",
                "2026-03-29T10:50:00.000Z",
                "resolved",
                "This incident has been resolved.",
                "partial_outage",
                "operational",
            ),
            update(
                "u10",
                "2026-03-29T10:10:00.000Z",
                "monitoring",
                "A fix is out; watching.",
                "partial_outage",
                "partial_outage",
            ),
            update(
                "opened",
                "2026-03-29T10:00:00.000Z",
                "investigating",
                "We are investigating an issue affecting Checkout.",
                "operational",
                "partial_outage",
            ),
        ],
        "components": [checkout],
        "reminder_intervals": None,
    }


def test_lists_hold_what_statuspage_puts_in_them():
    docs = documents(_busy_page())
    assert [i["id"] for i in docs["api/v2/incidents.json"]["incidents"]] == [pid("INC-2"), pid("INC-1")]
    assert [i["id"] for i in docs["api/v2/incidents/unresolved.json"]["incidents"]] == [pid("INC-2")]
    assert [i["id"] for i in docs["api/v2/summary.json"]["incidents"]] == [pid("INC-2")]
    everything = docs["api/v2/scheduled-maintenances.json"]["scheduled_maintenances"]
    assert [(m["id"], m["status"]) for m in everything] == [
        ("MNT-2", "scheduled"),
        ("MNT-1", "in_progress"),
        ("MNT-4", "completed"),
        ("MNT-3", "completed"),
    ]
    upcoming = docs["api/v2/scheduled-maintenances/upcoming.json"]["scheduled_maintenances"]
    assert [m["id"] for m in upcoming] == ["MNT-2"]
    assert [m["id"] for m in docs["api/v2/scheduled-maintenances/active.json"]["scheduled_maintenances"]] == ["MNT-1"]
    assert [m["id"] for m in docs["api/v2/summary.json"]["scheduled_maintenances"]] == ["MNT-1", "MNT-2"]


def test_a_maintenance_tells_its_story_in_updates():
    everything = documents(_busy_page())["api/v2/scheduled-maintenances.json"]["scheduled_maintenances"]
    by_id = {m["id"]: m for m in everything}
    story = {
        ident: [(u["status"], u["body"], u["affected_components"][0]["new_status"]) for u in m["incident_updates"]]
        for ident, m in by_id.items()
    }
    assert story["MNT-1"] == [
        (
            "in_progress",
            "Scheduled maintenance is currently in progress. We will provide updates as necessary.",
            "under_maintenance",
        ),
        ("scheduled", "Upgrading the login database.", "operational"),
    ]
    assert story["MNT-3"][0] == ("completed", "The scheduled maintenance has been completed.", "operational")
    assert story["MNT-4"] == [
        ("completed", "This scheduled maintenance has been cancelled.", "operational"),
        ("scheduled", "We will be undergoing scheduled maintenance during this time.", "operational"),
    ]
    mnt1 = by_id["MNT-1"]
    assert (mnt1["impact"], mnt1["scheduled_for"], mnt1["scheduled_until"], mnt1["resolved_at"]) == (
        "maintenance",
        "2026-03-29T11:00:00.000Z",
        "2026-03-29T13:00:00.000Z",
        None,
    )
    assert by_id["MNT-3"]["resolved_at"] == "2026-03-28T14:00:00.000Z"
    assert [c["status"] for c in mnt1["components"]] == ["under_maintenance"]


def test_incidents_json_carries_the_fifty_most_recent_and_unresolved_all_open_ones():
    incidents = [
        _incident(n, declared_at=T0 - timedelta(hours=n), status="resolved" if n > 3 else "identified")
        for n in range(1, 81)
    ]
    docs = documents(status_page("Acme Status", CATALOG, incidents, None, (), NOW, URL))
    listed = [i["id"] for i in docs["api/v2/incidents.json"]["incidents"]]
    assert listed == [pid(f"INC-{n}") for n in range(1, 51)]
    assert [i["id"] for i in docs["api/v2/incidents/unresolved.json"]["incidents"]] == [
        pid("INC-1"),
        pid("INC-2"),
        pid("INC-3"),
    ]


def test_json_is_served_as_json_and_markup_in_words_cannot_be_sniffed_as_html():
    hostile = "<script>alert(1)</script> & co"
    incident = _incident(1)
    page = status_page(
        "Acme Status", CATALOG, [incident], {"INC-1": [_update("INC-1", 5, "identified", hostile)]}, (), NOW
    )
    files = {f.path: f for f in render_site(page)}
    unresolved = files["api/v2/incidents/unresolved.json"]
    assert (unresolved.content_type, unresolved.cache_control) == (
        "application/json; charset=utf-8",
        "public, max-age=30",
    )
    assert b"<" not in unresolved.body and b"\\u003cscript\\u003e" in unresolved.body
    body = json.loads(unresolved.body)["incidents"][0]["incident_updates"][0]["body"]
    assert body == hostile
    # Without a site URL, links are relative to the site's root.
    assert json.loads(unresolved.body)["incidents"][0]["shortlink"] == f"incidents/{pid('INC-1')}.html"


def test_every_value_is_from_statuspages_vocabulary_and_every_time_is_iso_utc():
    component_statuses = {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
    incident_statuses = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
    maintenance_statuses = {"scheduled", "in_progress", "verifying", "completed"}
    instant = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
    times = 0

    def check(value: Any, kind: str) -> None:
        nonlocal times
        for key, child in value.items():
            if key.endswith("_at") or key in ("scheduled_for", "scheduled_until"):
                assert child is None or instant.fullmatch(child), (kind, key, child)
                times += child is not None
            elif isinstance(child, dict):
                check(child, _KIND_OF_KEY[key])
            elif isinstance(child, list):
                maintenance_update = kind == "scheduled_maintenance" and key == "incident_updates"
                for item in child:
                    check(item, "maintenance_update" if maintenance_update else _KIND_OF_LIST[key])
        if kind == "component":
            assert value["status"] in component_statuses
        elif kind == "affected_component":
            assert {value["old_status"], value["new_status"]} <= component_statuses
        elif kind in ("incident", "incident_update"):
            assert value["status"] in incident_statuses
        elif kind in ("scheduled_maintenance", "maintenance_update"):
            assert value["status"] in maintenance_statuses
        if kind == "incident":
            assert value["impact"] in {"none", "minor", "major", "critical"}
        elif kind == "scheduled_maintenance":
            assert value["impact"] == "maintenance"
        elif kind == "status":
            assert value["indicator"] in {"none", "minor", "major", "critical", "maintenance"}

    for document in documents(_busy_page()).values():
        check(document, "document")
    assert times > 100
