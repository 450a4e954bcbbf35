"""The incident history as feeds: `history.atom` (Atom 1.0, shaped like Statuspage's) and `history.rss` (RSS 2.0).

Pure. Built with xml.etree.ElementTree, so every value is escaped by the serialiser; an entry's content is an HTML
fragment whose public words are escaped by markupsafe first (feed readers unescape once, then render HTML).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from markupsafe import escape

from shared.core.text import clean
from shared.statuspage.api_v2 import page_url
from shared.statuspage.public_view import PUBLIC_STATUS_LABEL, PublicIncident, StatusPage

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 25  # the most recent incidents, as Statuspage's history feeds carry
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def atom_feed(page: StatusPage) -> bytes:
    feed = ET.Element("feed", {"xmlns": ATOM, _XML_LANG: "en"})
    _text(feed, "id", _tag_uri(page, "/history"))
    ET.SubElement(feed, "link", rel="alternate", type="text/html", href=page_url(page, "index.html"))
    ET.SubElement(feed, "link", rel="self", type="application/atom+xml", href=page_url(page, "history.atom"))
    _text(feed, "title", f"{page.title} - Incident History")
    _text(feed, "updated", _instant(page.updated_at or page.now))
    _text(ET.SubElement(feed, "author"), "name", page.title)
    for incident in page.incidents[:FEED_ENTRIES]:
        entry = ET.SubElement(feed, "entry")
        _text(entry, "id", _tag_uri(page, f"Incident/{incident.id}"))
        _text(entry, "published", _instant(incident.started_at))
        _text(entry, "updated", _instant(incident.updates[0].at))
        ET.SubElement(entry, "link", rel="alternate", type="text/html", href=_incident_url(page, incident))
        _text(entry, "title", incident.name)
        _text(entry, "content", _content(incident), type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def rss_feed(page: StatusPage) -> bytes:
    rss = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM})
    channel = ET.SubElement(rss, "channel")
    _text(channel, "title", f"{page.title} - Incident History")
    _text(channel, "link", page_url(page, "index.html"))
    _text(channel, "description", f"Incidents reported on {page.title}")
    _text(channel, "language", "en")
    _text(channel, "lastBuildDate", _rfc822(page.updated_at or page.now))  # the data's time, not the build's
    ET.SubElement(channel, "atom:link", href=page_url(page, "history.rss"), rel="self", type="application/rss+xml")
    for incident in page.incidents[:FEED_ENTRIES]:
        item = ET.SubElement(channel, "item")
        _text(item, "title", incident.name)
        _text(item, "description", _content(incident))
        _text(item, "pubDate", _rfc822(incident.started_at))
        _text(item, "link", _incident_url(page, incident))
        _text(item, "guid", _tag_uri(page, f"Incident/{incident.id}"), isPermaLink="false")
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


def _content(incident: PublicIncident) -> str:
    """Every public update, newest first, as Statuspage words it: '<small>time</small><br><strong>Status</strong> - …'
    (the time and label are ours; the words are escaped)."""
    return "".join(
        f"<p><small>{update.at.astimezone(UTC):%b %d, %H:%M} UTC</small><br>"
        f"<strong>{PUBLIC_STATUS_LABEL[update.status]}</strong> - {escape(update.body)}</p>"
        for update in incident.updates
    )


def _tag_uri(page: StatusPage, specific: str) -> str:
    """A permanent entry id: a tag URI under the site's host, like Statuspage's; a name-based UUID without one."""
    host = urlsplit(page.site_url).hostname if page.site_url else None
    if host:
        return f"tag:{host},2005:{specific}"
    return uuid.uuid5(uuid.NAMESPACE_URL, f"firebell:{page.title}:{specific}").urn


def _incident_url(page: StatusPage, incident: PublicIncident) -> str:
    return page_url(page, f"incidents/{incident.id}.html")


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    # The last guard: a character XML cannot carry (U+FFFE, a control) makes the whole feed unreadable.
    element.text = clean(text, multiline=True)
    return element


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)
