"""The public status site shows component names and public words only, escaped, with data-derived times."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.catalog import Catalog, Service
from shared.incident import Incident
from shared.public_view import status_page
from shared.status_site import render_site
from shared.timeline import TimelineEvent

CATALOG = Catalog(
    services=(Service("checkout", "Checkout"), Service("search", "Search")),
    default=Service("default", "Other services"),
)
T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


def _incident(number: int, **changes: object) -> Incident:
    base = Incident(
        id=f"INC-{number}",
        number=number,
        title="cpu-high on /subscriptions/123/vm-7",
        service="checkout",
        components=("Checkout",),
        severity=2,
        status="triggered",
        source="monitoring",
        source_detail="Azure Monitor Platform alert rule 'cpu-high'",
        detected_at=T0,
        declared_at=T0,
        updated_at=T0,
    )
    return replace(base, **changes)


def _rendered(page) -> dict[str, str]:
    return {f.path: f.body.decode() for f in render_site(page)}


def _files(incidents: list[Incident]) -> dict[str, str]:
    return {f.path: f.body.decode() for f in render_site(status_page("Acme Status", CATALOG, incidents))}


def test_an_open_incident_marks_its_component_and_the_banner():
    page = status_page("Acme Status", CATALOG, [_incident(1)])
    assert page.indicator == "major"
    assert page.banner == "Partial system outage"
    assert [(c.name, c.status) for c in page.components] == [
        ("Checkout", "partial_outage"),
        ("Search", "operational"),
        ("Other services", "operational"),
    ]
    assert page.updated_at == T0


def test_the_worst_open_incident_sets_a_component_status_and_resolved_ones_do_not_count():
    page = status_page(
        "Acme Status",
        CATALOG,
        [_incident(1, severity=3), _incident(2, severity=1), _incident(3, components=("Search",), status="resolved")],
    )
    statuses = [(c.name, c.status) for c in page.components]
    assert statuses[:2] == [("Checkout", "major_outage"), ("Search", "operational")]
    assert [i.id for i in page.active] == ["INC-2", "INC-1"]  # newest first; same time → higher number first
    assert [i.id for i in page.past] == ["INC-3"]
    assert page.indicator == "critical"


def test_no_incidents_means_all_operational_and_no_last_update_time():
    page = status_page("Acme Status", CATALOG, [])
    assert (page.indicator, page.banner, page.updated_at) == ("none", "All systems operational", None)
    index = _files([])["index.html"]
    assert "All systems operational" in index and "Active incidents" not in index


def test_index_links_each_incident_page_in_public_wording_only():
    files = _files([_incident(1)])
    assert sorted(files) == ["incidents/INC-1.html", "index.html"]
    index = files["index.html"]
    assert '<a href="incidents/INC-1.html">Issue affecting Checkout</a>' in index
    assert "We are investigating an issue affecting Checkout." in index
    assert "<strong>Investigating</strong>" in index
    for internal in ("cpu-high", "/subscriptions/", "vm-7", "monitoring"):
        assert internal not in index and internal not in files["incidents/INC-1.html"]


def test_times_are_machine_readable_with_their_zone():
    index = _files([_incident(1)])["index.html"]
    assert '<time datetime="2026-03-29T00:30:00.000Z">29 Mar 2026, 00:30 UTC</time>' in index


def test_component_names_are_escaped():
    hostile = Catalog(services=(Service("x", "<script>alert(1)</script>"),), default=Service("default", "Other"))
    incident = _incident(1, components=('<img src=x onerror="alert(1)">',))
    files = {f.path: f.body.decode() for f in render_site(status_page("A&B", hostile, [incident]))}
    for html in files.values():
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in files["index.html"]
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in files["incidents/INC-1.html"]
    assert "<title>A&amp;B</title>" in files["index.html"]


def test_index_is_published_last_with_html_headers():
    files = render_site(status_page("Acme Status", CATALOG, [_incident(1), _incident(2)]))
    assert [f.path for f in files][-1] == "index.html"
    assert {(f.content_type, f.cache_control) for f in files} == {("text/html; charset=utf-8", "public, max-age=30")}


def test_a_change_to_one_incident_renders_only_its_page_and_the_index():
    page = status_page("Acme Status", CATALOG, [_incident(1), _incident(2), _incident(3, status="resolved")])
    assert [f.path for f in render_site(page, changed=["INC-2"])] == ["incidents/INC-2.html", "index.html"]
    assert len(render_site(page)) == 4


def _said(kind: str, text: str, minute: int, **data) -> TimelineEvent:
    at = T0 + timedelta(minutes=minute)
    return TimelineEvent("INC-1", f"e{minute}", kind, at, at, "Priya", "teams", text, kind == "update.posted", data)


def test_public_updates_and_the_promised_next_update_are_shown_but_notes_never_are():
    incident = _incident(1, status="identified", next_update_at=T0 + timedelta(minutes=40))
    timeline = [
        _said("note", "Priya: the db primary in westeurope is toast", 5),
        _said(
            "update.posted",
            "Priya posted …",
            10,
            status="identified",
            public_text='Rolling back <script>alert("x")</script>',
        ),
    ]
    page = status_page("Acme Status", CATALOG, [incident], {"INC-1": timeline})
    files = _rendered(page)
    page_html = files["incidents/INC-1.html"]
    assert [(u.status, u.body) for u in page.active[0].updates] == [
        ("identified", 'Rolling back <script>alert("x")</script>'),
        ("investigating", "We are investigating an issue affecting Checkout."),
    ]
    assert "Rolling back &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page_html
    assert '<time datetime="2026-03-29T01:10:00.000Z">' in files["index.html"]  # next update expected by
    assert "toast" not in page_html and "toast" not in files["index.html"]


def test_a_resolved_incident_ends_with_the_safe_resolution_wording_and_no_promise():
    incident = _incident(1, status="resolved", resolved_at=T0 + timedelta(hours=1), next_update_at=T0)
    (published,) = status_page("Acme Status", CATALOG, [incident]).past
    assert (published.updates[0].status, published.updates[0].body) == ("resolved", "This incident has been resolved.")
    assert published.next_update_at is None
