"""The public status site shows component names and public words only, escaped, with data-derived times; it is
light, accessible without JavaScript, and published in an order that never links to a missing file."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from posixpath import dirname, normpath
from posixpath import join as join_path
from typing import ClassVar
from urllib.parse import urlsplit

from shared.catalog.services import Catalog, Service
from shared.incidents.incident import Incident
from shared.incidents.timeline import NOTE, PUBLIC_UPDATE, TimelineEvent
from shared.statuspage.maintenance import Maintenance
from shared.statuspage.public_view import status_page, timelines_needed
from shared.statuspage.site import SiteFile, render_site, stylesheet
from tests.unit.statuspage.ids import EVERY_SEVERITY_AT_ONCE, pid

CATALOG = Catalog(
    publication=EVERY_SEVERITY_AT_ONCE,
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


def _html(files: dict[str, str]) -> dict[str, str]:
    return {path: body for path, body in files.items() if path.endswith(".html")}


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
    assert [i.id for i in page.active] == [pid("INC-2"), pid("INC-1")]  # newest first; same time → higher number first
    assert [i.id for i in page.past] == [pid("INC-3")]
    assert page.indicator == "critical"


def test_no_incidents_means_all_operational_and_no_last_update_time():
    page = status_page("Acme Status", CATALOG, [])
    assert (page.indicator, page.banner, page.updated_at) == ("none", "All systems operational", None)
    index = _files([])["index.html"]
    assert "All systems operational" in index and "Active incidents" not in index
    assert "Last updated never: no incidents recorded." in index


def test_index_links_each_incident_page_in_public_wording_only():
    files = _files([_incident(1)])
    assert sorted(_html(files)) == [
        "history.html",
        "history/2026-03.html",
        f"incidents/{pid('INC-1')}.html",
        "index.html",
    ]
    index = files["index.html"]
    assert f'<a href="incidents/{pid("INC-1")}.html">Issue affecting Checkout</a>' in index
    assert "We are investigating an issue affecting Checkout." in index
    assert "<strong>Investigating</strong>" in index
    for path, body in files.items():
        for internal in ("cpu-high", "/subscriptions/", "vm-7", "Azure Monitor"):
            assert internal not in body, path
    for body in _html(files).values():
        assert "monitoring" not in body  # how we knew is internal (JSON has Statuspage's `monitoring_at` key)


def test_times_are_machine_readable_with_their_zone():
    index = _files([_incident(1)])["index.html"]
    assert '<time datetime="2026-03-29T00:30:00.000Z">29 Mar 2026, 00:30 UTC</time>' in index


def test_component_names_are_escaped():
    hostile = Catalog(
        services=(Service("x", "<script>alert(1)</script>"),),
        default=Service("default", "Other"),
        publication=EVERY_SEVERITY_AT_ONCE,
    )
    incident = _incident(1, components=('<img src=x onerror="alert(1)">',))
    files = {f.path: f.body.decode() for f in render_site(status_page("A&B", hostile, [incident]))}
    for body in files.values():
        assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in files["index.html"]
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in files[f"incidents/{pid('INC-1')}.html"]
    assert "<title>A&amp;B</title>" in files["index.html"]


def test_index_is_published_last_with_html_headers():
    files = render_site(status_page("Acme Status", CATALOG, [_incident(1), _incident(2)]))
    assert [f.path for f in files][-1] == "index.html"
    html = {(f.content_type, f.cache_control) for f in files if f.path.endswith(".html")}
    assert html == {("text/html; charset=utf-8", "public, max-age=30")}


def test_every_file_in_publishing_order_with_its_type_and_cache():
    page = status_page("Acme Status", CATALOG, [_incident(1), _incident(2, declared_at=T0 - timedelta(days=40))])
    css = stylesheet().path
    assert [(f.path, f.content_type, f.cache_control) for f in render_site(page)] == [
        (css, "text/css; charset=utf-8", "public, max-age=31536000, immutable"),
        ("api/v2/summary.json", "application/json; charset=utf-8", "public, max-age=30"),
        ("api/v2/status.json", "application/json; charset=utf-8", "public, max-age=30"),
        ("api/v2/components.json", "application/json; charset=utf-8", "public, max-age=30"),
        ("api/v2/incidents.json", "application/json; charset=utf-8", "public, max-age=30"),
        ("api/v2/incidents/unresolved.json", "application/json; charset=utf-8", "public, max-age=30"),
        ("api/v2/scheduled-maintenances.json", "application/json; charset=utf-8", "public, max-age=30"),
        ("api/v2/scheduled-maintenances/upcoming.json", "application/json; charset=utf-8", "public, max-age=30"),
        ("api/v2/scheduled-maintenances/active.json", "application/json; charset=utf-8", "public, max-age=30"),
        ("history.atom", "application/atom+xml; charset=utf-8", "public, max-age=60"),
        ("history.rss", "application/rss+xml; charset=utf-8", "public, max-age=60"),
        (f"incidents/{pid('INC-1')}.html", "text/html; charset=utf-8", "public, max-age=30"),
        (f"incidents/{pid('INC-2')}.html", "text/html; charset=utf-8", "public, max-age=30"),
        ("history/2026-03.html", "text/html; charset=utf-8", "public, max-age=30"),
        ("history/2026-02.html", "text/html; charset=utf-8", "public, max-age=30"),
        ("history.html", "text/html; charset=utf-8", "public, max-age=30"),
        ("index.html", "text/html; charset=utf-8", "public, max-age=30"),
    ]


def test_a_change_to_one_incident_renders_only_its_pages_and_the_shared_ones():
    old = _incident(3, status="resolved", declared_at=T0 - timedelta(days=40))
    page = status_page("Acme Status", CATALOG, [_incident(1), _incident(2), old])
    paths = [f.path for f in render_site(page, changed=[pid("INC-2")])]
    assert [p for p in paths if p.endswith(".html")] == [
        f"incidents/{pid('INC-2')}.html",
        "history/2026-03.html",
        "history.html",
        "index.html",
    ]
    assert len(paths) == 1 + 8 + 2 + 4  # the stylesheet, the API and the feeds are always there
    assert "history/2026-02.html" in [f.path for f in render_site(page, changed=[pid("INC-3")])]
    assert len([p for p in (f.path for f in render_site(page)) if p.startswith("incidents/")]) == 3


def test_the_stylesheet_is_named_by_its_content_and_loads_nothing_else():
    css = stylesheet()
    assert css.path == f"assets/status.{hashlib.sha256(css.body).hexdigest()[:12]}.css"
    text = css.body.decode()
    for banned in ("@import", "url(", "@font-face", "http:", "https:"):
        assert banned not in text


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
    page_html = files[f"incidents/{pid('INC-1')}.html"]
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


def test_a_posted_resolution_replaces_the_default_one():
    incident = _incident(1, status="resolved", resolved_at=T0 + timedelta(hours=1))
    timeline = [_said("update.posted", "", 50, status="resolved", public_text="Payments work again. Sorry!")]
    (published,) = status_page("Acme Status", CATALOG, [incident], {"INC-1": timeline}).past
    assert [(u.status, u.body) for u in published.updates] == [
        ("resolved", "Payments work again. Sorry!"),
        ("investigating", "We are investigating an issue affecting Checkout."),
    ]


# --- component status: severity, overrides, maintenance --------------------------------------------------------


def _maintenance(ident: str, start: timedelta, components=("Search",), **changes) -> Maintenance:
    now = T0 + timedelta(hours=1)
    base = Maintenance(
        id=ident,
        name="Search index rebuild",
        components=components,
        scheduled_for=now + start,
        scheduled_until=now + start + timedelta(hours=2),
        created_at=T0 - timedelta(days=1),
        updated_at=T0 - timedelta(days=1),
        description="Search results may be stale for a few minutes.",
    )
    return replace(base, **changes)


def test_overrides_replace_the_severity_while_the_incident_is_open():
    overridden = _incident(
        1,
        severity=1,
        components=("Checkout",),
        component_overrides=(("Checkout", "degraded_performance"), ("Search", "partial_outage")),
    )
    page = status_page("Acme Status", CATALOG, [overridden])
    assert [(c.name, c.status) for c in page.components] == [
        ("Checkout", "degraded_performance"),
        ("Search", "partial_outage"),
        ("Other services", "operational"),
    ]
    assert (page.active[0].impact, page.indicator) == ("major", "major")
    assert page.active[0].components == ("Checkout", "Search")
    resolved = replace(overridden, status="resolved", resolved_at=T0 + timedelta(minutes=30))
    assert {c.status for c in status_page("Acme Status", CATALOG, [resolved]).components} == {"operational"}
    # Two open incidents on one component: the worse one shows.
    worse = _incident(2, severity=1)
    assert status_page("Acme Status", CATALOG, [overridden, worse]).components[0].status == "major_outage"


def test_a_maintenance_in_progress_puts_its_components_under_maintenance_and_both_windows_are_listed():
    now = T0 + timedelta(hours=1)
    windows = [_maintenance("MNT-1", -timedelta(minutes=30)), _maintenance("MNT-2", timedelta(days=2), ("Checkout",))]
    page = status_page("Acme Status", CATALOG, [], None, windows, now)
    assert [(c.name, c.status) for c in page.components][:2] == [
        ("Checkout", "operational"),
        ("Search", "under_maintenance"),
    ]
    assert (page.indicator, page.banner) == ("maintenance", "Service under maintenance")
    assert page.updated_at == now - timedelta(minutes=30)  # the window's start is the newest change
    index = _rendered(page)["index.html"]
    section = index[index.index('<h2 id="maintenance">') : index.index('<h2 id="components">')]
    assert [m.group(1) for m in re.finditer(r'<h3 id="(MNT-\d)">', section)] == ["MNT-1", "MNT-2"]
    assert (
        '<strong>In progress</strong> · <time datetime="2026-03-29T01:00:00.000Z">29 Mar 2026, 01:00 UTC</time>'
        in section
    )
    assert "<strong>Scheduled</strong>" in section and "Search results may be stale for a few minutes." in section
    # A degraded component during its maintenance is the maintenance; an outage is worse than it.
    slow = _incident(1, components=("Search",), severity=3)
    broken = _incident(2, components=("Search",), severity=2)
    assert status_page("Acme Status", CATALOG, [slow], None, windows, now).components[1].status == "under_maintenance"
    assert status_page("Acme Status", CATALOG, [broken], None, windows, now).components[1].status == "partial_outage"


def test_without_a_clock_the_page_describes_the_moment_of_its_newest_data():
    page = status_page("Acme Status", CATALOG, [_incident(1, updated_at=T0 + timedelta(minutes=7))])
    assert page.now == page.updated_at == T0 + timedelta(minutes=7)
    assert (
        render_site(page)[-1].body
        == render_site(status_page("Acme Status", CATALOG, [_incident(1, updated_at=T0 + timedelta(minutes=7))]))[
            -1
        ].body
    )


def test_timelines_needed_are_the_pages_rendered_the_open_incidents_and_the_recent_ones():
    incidents = [
        _incident(n, status="resolved" if n != 3 else "identified", declared_at=T0 + timedelta(hours=n))
        for n in range(1, 61)
    ]
    assert timelines_needed(incidents) == [f"INC-{n}" for n in range(60, 0, -1)]
    assert timelines_needed(incidents, ["INC-1"]) == [*(f"INC-{n}" for n in range(60, 10, -1)), "INC-3", "INC-1"]


# --- accessibility, weight and safety, checked on the parsed pages -----------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    content: list[str | Node] = field(default_factory=list)  # text and elements in document order

    @property
    def children(self) -> list[Node]:
        return [item for item in self.content if isinstance(item, Node)]

    def all(self, tag: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if tag is None or child.tag == tag:
                found.append(child)
            found += child.all(tag)
        return found

    def words(self) -> str:
        return "".join(item if isinstance(item, str) else item.words() for item in self.content)


class _TreeBuilder(HTMLParser):
    VOID: ClassVar[set[str]] = {"meta", "link", "br", "img", "input", "hr", "source", "area", "base", "col", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {})
        self.declarations: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.declarations.append(decl)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {name: value or "" for name, value in attrs}, parent=self.current)
        self.current.content.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"</{tag}> closes nothing"
        self.current = node.parent

    def handle_data(self, data):
        self.current.content.append(data)


def parse(html: str) -> _TreeBuilder:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder


NAMES = ("Checkout", "Search", "Login", "API", "Webhooks", "Notifications", "Dashboard")
TYPICAL_CATALOG = Catalog(
    publication=EVERY_SEVERITY_AT_ONCE,
    services=tuple(Service(name.lower(), name) for name in NAMES),
    default=Service("default", "Other services"),
)
NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
WORDS = "We have identified elevated error rates for card payments in Europe and are rolling back the latest release."


def typical_site(now: datetime = NOW, extra: list[Incident] = (), timelines=None) -> tuple[object, list[SiteFile]]:
    """A year of a busy page: an incident about every 30 hours on 7 components, three public updates each, two
    still open, a maintenance in progress and one upcoming."""
    incidents, events = list(extra), dict(timelines or {})
    for number in range(1, 291):
        declared = now - timedelta(hours=30 * (290 - number) + 4)
        still_open = number > 288
        incident = _incident(
            number,
            components=(NAMES[number % 7], NAMES[(number * 3) % 7]) if number % 4 == 0 else (NAMES[number % 7],),
            severity=1 + number % 4,
            status="identified" if still_open else "resolved",
            declared_at=declared,
            updated_at=declared + timedelta(minutes=90),
            resolved_at=None if still_open else declared + timedelta(minutes=20 + number % 200),
            next_update_at=now + timedelta(minutes=30) if still_open else None,
        )
        incidents.append(incident)
        events[incident.id] = [
            TimelineEvent(
                incident.id,
                f"u{step}",
                PUBLIC_UPDATE,
                declared + timedelta(minutes=10 * step),
                declared,
                "Priya",
                "teams",
                "",
                True,
                {"status": status, "public_text": f"{WORDS} ({step})"},
            )
            for step, status in enumerate(("investigating", "identified", "monitoring"), start=1)
        ]
    windows = [
        _maintenance("MNT-1", now - T0 - timedelta(hours=1.5), ("Checkout",)),
        _maintenance("MNT-2", now - T0 + timedelta(days=2), ("API", "Login")),
    ]
    page = status_page("Acme Status", TYPICAL_CATALOG, incidents, events, windows, now, "https://status.example.com")
    return page, render_site(page)


def test_a_typical_page_weighs_at_most_30_kb_gzipped():
    _, files = typical_site()
    weights = {f.path: len(gzip.compress(f.body)) for f in files}
    for path in ("index.html", f"incidents/{pid('INC-290')}.html", "history.html", "history/2026-03.html"):
        assert weights[path] + weights[stylesheet().path] <= 30 * 1024, (path, weights[path])


def test_every_page_is_semantic_static_and_self_contained():
    _, files = typical_site()
    site = {f.path for f in files}
    for path, body in _html({f.path: f.body.decode() for f in files}).items():
        document = parse(body)
        assert document.declarations == ["doctype html"], path
        (html,) = document.root.all("html")
        assert html.attrs["lang"] == "en"
        skip = html.all("a")[0]  # the first thing a keyboard reaches
        assert (skip.attrs, skip.words()) == ({"class": "skip", "href": "#main"}, "Skip to content")
        assert [m.attrs.get("id") for m in html.all("main")] == ["main"]
        for landmark in ("header", "nav", "footer"):
            assert len(html.all(landmark)) == 1, (path, landmark)
        assert len(html.all("h1")) == 1, path
        links = [link.attrs for link in html.all("link")]
        alternates = {(link["type"], link["href"]) for link in links if link.get("rel") == "alternate"}
        root = "../" * path.count("/")
        assert alternates == {
            ("application/atom+xml", f"{root}history.atom"),
            ("application/rss+xml", f"{root}history.rss"),
            ("application/json", f"{root}api/v2/summary.json"),
        }
        # No script, no inline handlers, no third-party request: every reference is a file of this site; and should
        # anything slip through, the page's policy forbids scripts and every other origin.
        (policy,) = [
            m.attrs["content"] for m in html.all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"
        ]
        assert policy == "default-src 'none'; style-src 'self'; img-src data:; base-uri 'none'; form-action 'none'"
        assert not html.all("script") and not html.all("iframe") and not html.all("img")
        for node in html.all():
            assert not any(name.startswith("on") for name in node.attrs), (path, node.tag)
            for name in ("href", "src"):
                if name in node.attrs and node.attrs[name] != "data:" and not node.attrs[name].startswith("data:,"):
                    target = node.attrs[name]
                    assert not urlsplit(target).scheme and not target.startswith("//"), (path, target)
                    file_part = target.split("#")[0]
                    if file_part:
                        resolved = normpath(join_path(dirname(path), file_part))
                        assert resolved in site, (path, target)


def test_every_time_is_machine_readable_with_its_zone():
    _, files = typical_site()
    for path, body in _html({f.path: f.body.decode() for f in files}).items():
        for time_element in parse(body).root.all("time"):
            stamp, text = time_element.attrs["datetime"], time_element.words()
            if "T" in stamp:
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp) and text.endswith(" UTC"), (
                    path,
                    stamp,
                )
            else:  # a UTC day or month of the history
                assert re.fullmatch(r"\d{4}-\d\d(-\d\d)?", stamp), (path, stamp)


def test_the_90_day_bars_are_keyboard_reachable_with_words_and_a_table_says_the_same():
    now = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    outage = _incident(
        1,
        components=("Search",),
        severity=1,
        status="resolved",
        declared_at=datetime(2026, 3, 20, 10, 0, tzinfo=UTC),
        resolved_at=datetime(2026, 3, 20, 10, 42, tzinfo=UTC),
        updated_at=datetime(2026, 3, 20, 10, 42, tzinfo=UTC),
    )
    page = status_page("Acme Status", CATALOG, [outage], None, (), now)
    index = parse(_rendered(page)["index.html"]).root
    bars = [ol for ol in index.all("ol") if ol.attrs.get("class") == "bars"]
    assert [ol.attrs["aria-label"] for ol in bars] == [
        "Checkout: daily state, last 90 days",
        "Search: daily state, last 90 days",
        "Other services: daily state, last 90 days",
    ]
    search_days = bars[1].all("li")
    assert len(search_days) == 90 and {li.attrs["tabindex"] for li in search_days} == {"0"}
    assert search_days[-1].words() == "29 Mar 2026: Operational, 0 min of outage"
    assert search_days[-10].words() == "20 Mar 2026: Major outage, 42 min of outage"
    assert search_days[-10].attrs["class"] == "d-major_outage"
    (details,) = index.all("details")
    assert details.all("summary")[0].words() == "Daily history as a table"
    rows = details.all("tbody")[0].all("tr")
    assert len(rows) == 90
    row = [cell.words() for cell in rows[9].children]
    assert row == ["20 Mar 2026", "Operational", "Major outage, 42 min of outage", "Operational"]
    uptime = [p.words() for p in index.all("p") if p.attrs.get("class") == "legend muted"]
    assert uptime[1] == "90 days ago99.96 % uptimeToday"  # 42 of 128,880 minutes, floored


def test_status_is_always_said_in_words_not_only_colour():
    page, files = typical_site()
    index = parse(next(f.body.decode() for f in files if f.path == "index.html")).root
    spans = [s for s in index.all("span") if s.attrs.get("class", "").startswith("s s-")]
    labels = {
        "operational": "Operational",
        "degraded_performance": "Degraded performance",
        "partial_outage": "Partial outage",
        "major_outage": "Major outage",
        "under_maintenance": "Under maintenance",
    }
    assert len(spans) >= len(page.components)
    for span in spans:
        status = span.attrs["class"].removeprefix("s s-")
        assert span.words().endswith(labels[status])
        (icon,) = span.all("span")
        assert icon.attrs == {"aria-hidden": "true"}


# --- contrast: WCAG 2.1 AA in both colour schemes ------------------------------------------------------------------


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _palettes(css: str) -> dict[str, dict[str, str]]:
    light = re.search(r"^:root\{([^}]*)\}", css, re.M).group(1)
    dark = re.search(r"@media \(prefers-color-scheme:dark\)\{:root\{([^}]*)\}\}", css).group(1)
    return {
        scheme: {m.group(1): m.group(2) for m in re.finditer(r"--([\w-]+):(#[0-9a-f]{6})", block)}
        for scheme, block in (("light", light), ("dark", dark))
    }


def test_contrast_ratio_is_computed_as_wcag_defines_it():
    assert round(contrast("#000000", "#ffffff"), 2) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54  # the lightest grey that passes on white


def test_every_colour_pair_meets_wcag_aa_in_light_and_dark_schemes():
    css = stylesheet().body.decode()
    palettes = _palettes(css)
    assert set(palettes["light"]) == set(palettes["dark"])  # dark mode redefines every colour
    # Every literal colour is a custom property of the two palettes, so the pairs below are all there is.
    assert len(re.findall(r"#[0-9a-f]{3,8}\b", css)) == 2 * len(palettes["light"])
    text = set(re.findall(r"(?<![-\w])color:var\(--([\w-]+)\)", css))
    graphics = set(palettes["light"]) - text - {"bg"}  # bars, swatches, borders, focus rings
    assert text >= {
        "fg",
        "muted",
        "operational",
        "degraded_performance",
        "partial_outage",
        "major_outage",
        "under_maintenance",
    }
    for scheme, palette in palettes.items():
        for name in text:
            assert contrast(palette[name], palette["bg"]) >= 4.5, (scheme, name)
        for name in graphics:  # non-text contrast (WCAG 1.4.11): 3:1
            assert contrast(palette[name], palette["bg"]) >= 3, (scheme, name)
    assert "prefers-color-scheme:dark" in css and "color-scheme:light dark" in css


# --- only public words, in every file --------------------------------------------------------------------------


def test_nothing_internal_reaches_any_published_file():
    secret = _incident(
        9001,
        title="SECRET-TITLE cpu-high",
        description="SECRET-DESCRIPTION",
        customer_impact="SECRET-IMPACT",
        source_detail="SECRET-SOURCE /subscriptions/SECRET-RESOURCE",
        roles=(("commander", "SECRET-PERSON"),),
        notified=("SECRET-PAGED",),
        acknowledged_by=("SECRET-ACK",),
        work_item_url="https://dev.azure.com/SECRET-WORKITEM",
        group="SECRET-GROUP",
        latest_update="Rolling back.",
        status="identified",
        declared_at=NOW - timedelta(hours=1),
        updated_at=NOW - timedelta(minutes=5),
    )
    at = NOW - timedelta(minutes=30)
    timeline = [
        TimelineEvent(
            "INC-9001", "n1", NOTE, at, at, "SECRET-ACTOR", "teams", "SECRET-NOTE", False, {"x": "SECRET-DATA"}
        ),
        TimelineEvent(
            "INC-9001",
            "p1",
            PUBLIC_UPDATE,
            at,
            at,
            "SECRET-ACTOR",
            "teams",
            "SECRET-EVENT-TEXT",
            True,
            {"status": "identified", "public_text": "Rolling back.", "by": "SECRET-BY"},
        ),
        TimelineEvent(
            "INC-9001",
            "p2",
            PUBLIC_UPDATE,
            at,
            at,
            "SECRET-ACTOR",
            "teams",
            "SECRET-PRIVATE-UPDATE",
            False,
            {"status": "identified", "public_text": "SECRET-NOT-PUBLIC"},
        ),
    ]
    _, files = typical_site(extra=[secret], timelines={"INC-9001": timeline})
    assert f"incidents/{pid('INC-9001')}.html" in {f.path for f in files}
    assert len({f.path.rsplit(".", 1)[-1] for f in files}) == 5  # css, json, atom, rss, html: all checked
    for site_file in files:
        body = site_file.body.decode()
        assert "SECRET" not in body, (site_file.path, body[body.find("SECRET") - 80 : body.find("SECRET") + 40])
    summary = json.loads(next(f.body for f in files if f.path == "api/v2/summary.json"))
    secret_json = next(i for i in summary["incidents"] if i["id"] == pid("INC-9001"))
    assert [u["body"] for u in secret_json["incident_updates"]] == [
        "Rolling back.",
        "We are investigating an issue affecting Checkout.",
    ]


def test_history_shows_three_recent_months_and_links_every_older_one():
    page, files = typical_site()
    by_path = {f.path: f.body.decode() for f in files}
    history = parse(by_path["history.html"]).root
    months = [h2.words() for h2 in history.all("h2")]
    assert months == ["March 2026", "February 2026", "January 2026", "Older months"]
    archive = [a.attrs["href"] for a in history.all("a") if a.attrs["href"].startswith("history/")]
    assert archive[0] == "history/2025-12.html" and archive[-1] == "history/2025-04.html" and len(archive) == 9
    march = parse(by_path["history/2026-03.html"]).root
    listed = [a.attrs["href"] for a in march.all("a") if a.attrs["href"].startswith("../incidents/")]
    expected = [i.id for i in page.incidents if i.started_at.month == 3 and i.started_at.year == 2026]
    assert listed == [f"../incidents/{ident}.html" for ident in expected] and len(expected) > 20
    quiet = parse(
        _rendered(status_page("Acme Status", CATALOG, [_incident(1)], None, (), T0 + timedelta(days=40)))[
            "history.html"
        ]
    )
    assert [p.words() for p in quiet.root.all("p") if p.words() == "No incidents reported."] == [
        "No incidents reported."
    ] * 2
