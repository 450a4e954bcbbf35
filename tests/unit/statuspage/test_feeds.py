"""history.atom and history.rss: the incident history as feeds, shaped like Statuspage's, escaped by the serialiser."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.catalog.services import Catalog, Service
from shared.incidents.incident import Incident
from shared.incidents.timeline import PUBLIC_UPDATE, TimelineEvent
from shared.statuspage.feeds import FEED_ENTRIES, atom_feed, rss_feed
from shared.statuspage.public_view import status_page
from shared.statuspage.site import render_site
from tests.conftest import SAMPLES
from tests.unit.statuspage.ids import EVERY_SEVERITY_AT_ONCE, pid

A = "{http://www.w3.org/2005/Atom}"
CATALOG = Catalog(
    publication=EVERY_SEVERITY_AT_ONCE,
    services=(Service("checkout", "Checkout"),),
    default=Service("default", "Other services"),
)
T0 = datetime(2026, 3, 29, 10, 0, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script> <img src=x onerror="alert(2)"> & more'


def _incident(number: int, **changes: object) -> Incident:
    base = Incident(
        id=f"INC-{number}",
        number=number,
        title="internal title",
        service="checkout",
        components=("Checkout",),
        severity=3,
        status="resolved",
        source="monitoring",
        source_detail="cpu-high",
        detected_at=T0,
        declared_at=T0,
        updated_at=T0 + timedelta(minutes=40),
        resolved_at=T0 + timedelta(minutes=40),
    )
    return replace(base, **changes)


def _page(site_url: str = "https://status.example.com", count: int = 2):
    incidents = [_incident(n, declared_at=T0 - timedelta(days=count - n)) for n in range(1, count + 1)]
    at = T0 + timedelta(minutes=10)
    said = TimelineEvent(
        "INC-2",
        "u1",
        PUBLIC_UPDATE,
        at,
        at,
        "Priya",
        "teams",
        "internal",
        True,
        {"status": "identified", "public_text": HOSTILE},
    )
    return status_page("Acme Status", CATALOG, incidents, {"INC-2": [said]}, (), None, site_url)


def _xml(document: bytes) -> ET.Element:
    return ET.fromstring(document)  # noqa: S314 (our own output and a checked-in sample, not untrusted input)


def _children(element: ET.Element) -> list[str]:
    return [child.tag.replace(A, "") for child in element]


def test_the_atom_feed_has_statuspages_structure():
    sample = _xml((SAMPLES / "statuspage" / "history_atom_example.xml").read_bytes())
    feed = _xml(atom_feed(_page()))
    assert feed.tag == sample.tag == f"{A}feed"
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert _children(feed)[:6] == _children(sample)[:6] == ["id", "link", "link", "title", "updated", "author"]
    assert _children(feed.find(f"{A}entry")) == _children(sample.find(f"{A}entry"))
    assert feed.findtext(f"{A}id") == "tag:status.example.com,2005:/history"
    assert feed.findtext(f"{A}title") == "Acme Status - Incident History"
    assert feed.findtext(f"{A}updated") == "2026-03-29T10:40:00Z"  # the data's last change
    links = [(link.get("rel"), link.get("type"), link.get("href")) for link in feed.findall(f"{A}link")]
    assert links == [
        ("alternate", "text/html", "https://status.example.com/index.html"),
        ("self", "application/atom+xml", "https://status.example.com/history.atom"),
    ]


def test_an_atom_entry_carries_every_public_update_escaped_and_nothing_internal():
    entry = _xml(atom_feed(_page())).find(f"{A}entry")
    assert entry.findtext(f"{A}id") == f"tag:status.example.com,2005:Incident/{pid('INC-2')}"
    assert (entry.findtext(f"{A}published"), entry.findtext(f"{A}updated")) == (
        "2026-03-29T10:00:00Z",
        "2026-03-29T10:40:00Z",
    )
    assert entry.find(f"{A}link").get("href") == f"https://status.example.com/incidents/{pid('INC-2')}.html"
    assert entry.findtext(f"{A}title") == "Issue affecting Checkout"
    content = entry.find(f"{A}content")
    assert content.get("type") == "html"
    assert content.text == (
        "<p><small>Mar 29, 10:40 UTC</small><br><strong>Resolved</strong> - This incident has been resolved.</p>"
        "<p><small>Mar 29, 10:10 UTC</small><br><strong>Identified</strong> - "
        "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=&#34;alert(2)&#34;&gt; &amp; more</p>"
        "<p><small>Mar 29, 10:00 UTC</small><br><strong>Investigating</strong> - "
        "We are investigating an issue affecting Checkout.</p>"
    )
    raw = atom_feed(_page())
    assert b"<script" not in raw and b"internal" not in raw


def test_the_rss_feed_says_the_same():
    rss = _xml(rss_feed(_page()))
    assert (rss.tag, rss.get("version")) == ("rss", "2.0")
    channel = rss.find("channel")
    assert channel.findtext("title") == "Acme Status - Incident History"
    assert channel.findtext("link") == "https://status.example.com/index.html"
    assert channel.findtext("lastBuildDate") == "Sun, 29 Mar 2026 10:40:00 GMT"
    assert channel.find(f"{A}link").get("href") == "https://status.example.com/history.rss"
    items = channel.findall("item")
    assert [item.findtext("title") for item in items] == ["Issue affecting Checkout"] * 2
    first = items[0]
    assert first.findtext("pubDate") == "Sun, 29 Mar 2026 10:00:00 GMT"
    assert first.findtext("link") == f"https://status.example.com/incidents/{pid('INC-2')}.html"
    assert first.find("guid").get("isPermaLink") == "false"
    assert first.findtext("guid") == f"tag:status.example.com,2005:Incident/{pid('INC-2')}"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in first.findtext("description")


def test_without_a_site_url_ids_are_still_permanent_and_links_relative():
    feed = _xml(atom_feed(_page(site_url="")))
    entry_id = feed.find(f"{A}entry").findtext(f"{A}id")
    assert entry_id.startswith("urn:uuid:")
    assert entry_id == _xml(atom_feed(_page(site_url=""))).find(f"{A}entry").findtext(f"{A}id")
    assert feed.find(f"{A}entry").find(f"{A}link").get("href") == f"incidents/{pid('INC-2')}.html"


def test_feeds_carry_the_most_recent_incidents_only():
    page = _page(count=FEED_ENTRIES + 5)
    atom_ids = [e.findtext(f"{A}id") for e in _xml(atom_feed(page)).findall(f"{A}entry")]
    assert len(atom_ids) == FEED_ENTRIES == 25
    assert atom_ids[0].endswith(f"Incident/{pid('INC-30')}") and atom_ids[-1].endswith(f"Incident/{pid('INC-6')}")
    assert len(_xml(rss_feed(page)).find("channel").findall("item")) == 25


def test_feeds_are_published_with_their_types_and_a_short_cache():
    files = {f.path: f for f in render_site(_page())}
    assert (files["history.atom"].content_type, files["history.atom"].cache_control) == (
        "application/atom+xml; charset=utf-8",
        "public, max-age=60",
    )
    assert files["history.rss"].content_type == "application/rss+xml; charset=utf-8"
    assert files["history.atom"].body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
