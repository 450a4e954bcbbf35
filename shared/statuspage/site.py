"""Render the public status site: a StatusPage in, the static files of `$web` out, in publishing order. Pure.

HTML comes from Jinja2 with autoescaping; JSON from `json`; feeds from ElementTree. The stylesheet is the only
asset: content-hashed, so it can be cached for a year and every page links the version it was rendered with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from importlib import resources

from jinja2 import Environment
from markupsafe import Markup, escape

from shared.core import templates
from shared.core.timeutil import iso
from shared.statuspage import api_v2 as statuspage_api
from shared.statuspage.component_history import COMPONENT_STATUS_LABEL, COMPONENT_STATUSES, HISTORY_DAYS
from shared.statuspage.feeds import atom_feed, rss_feed
from shared.statuspage.public_view import (
    IMPACT_LABEL,
    MAINTENANCE_STATUS_LABEL,
    PUBLIC_STATUS_LABEL,
    RECENT_DAYS,
    PublicIncident,
    StatusPage,
)

# Pages change within seconds of an incident update; a short max-age keeps CDNs and browsers close behind.
HTML_CACHE_CONTROL = "public, max-age=30"
API_CACHE_CONTROL = "public, max-age=30"
FEED_CACHE_CONTROL = "public, max-age=60"  # feed readers poll; a minute behind is still news
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"  # the name changes whenever the content does
HTML = "text/html; charset=utf-8"
CSS = "text/css; charset=utf-8"
JSON = "application/json; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
CUT = Markup("<!--cut-->")  # where rendered pieces are split; no escaped value can contain it
HISTORY_MONTHS = 3  # months history.html shows in full; older ones have a page each under history/
# Text labels go with every status colour; the icon is decoration (aria-hidden), the words carry the meaning.
_ICON = {
    "operational": "✓",
    "degraded_performance": "!",
    "under_maintenance": "⚒",
    "partial_outage": "◑",
    "major_outage": "✕",
}


@dataclass(frozen=True)
class SiteFile:
    path: str  # blob name inside $web
    body: bytes
    content_type: str
    cache_control: str


@cache
def stylesheet() -> SiteFile:
    css = resources.files("shared.statuspage").joinpath("templates/status.css").read_bytes()
    digest = hashlib.sha256(css).hexdigest()[:12]
    return SiteFile(f"assets/status.{digest}.css", css, CSS, ASSET_CACHE_CONTROL)


@cache
def _environment() -> Environment:
    env = templates.environment("shared.statuspage")
    # Filters, not globals: Jinja calls a filter directly, a global through the context (several times slower).
    env.filters.update(
        when=_when,
        day=_day,
        icon=_ICON.__getitem__,
        status_label=PUBLIC_STATUS_LABEL.__getitem__,
        component_label=COMPONENT_STATUS_LABEL.__getitem__,
        maintenance_label=MAINTENANCE_STATUS_LABEL.__getitem__,
        impact_label=IMPACT_LABEL.__getitem__,
        listed=_listed,
    )
    env.globals.update(
        stylesheet=stylesheet().path,
        days=HISTORY_DAYS,
        recent_days=RECENT_DAYS,
        statuses=COMPONENT_STATUSES,
    )
    return env


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(names) or "our services"  # plain text: autoescaping escapes it whole, cheaper than `join`


_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TIME = Markup('<time datetime="%s">%02d %s %d, %02d:%02d UTC</time>')
_DAY = Markup('<time datetime="%s">%02d %s %d</time>')


@lru_cache(maxsize=65536)
def _when(moment: datetime) -> Markup:
    """'29 Mar 2026, 00:30 UTC' in a <time> with the instant in ISO 8601 (a page shows the same instants many times)."""
    utc = moment.astimezone(UTC)
    return _TIME % (iso(utc), utc.day, _MONTHS[utc.month], utc.year, utc.hour, utc.minute)


@lru_cache(maxsize=4096)
def _day(day: date) -> Markup:
    return _DAY % (day.isoformat(), day.day, _MONTHS[day.month], day.year)


def forget_formatted_times() -> None:
    """Empty the formatted-time caches (a new instance starts without them; the benchmark measures that too)."""
    _when.cache_clear()
    _day.cache_clear()


def render_incident_pages(page: StatusPage, incidents: Iterable[PublicIncident]) -> list[SiteFile]:
    """`incidents/<id>.html` for each incident: one render for all of them, set into a page shell rendered once."""
    incidents = list(incidents)
    pages = _in_shell(page, "", "incident_pages.html", incidents=incidents)
    return [
        SiteFile(f"incidents/{incident.id}.html", html, HTML, HTML_CACHE_CONTROL)
        for incident, html in zip(incidents, pages, strict=True)
    ]


def render_month_pages(page: StatusPage, months: list[tuple[date, tuple[PublicIncident, ...]]]) -> list[SiteFile]:
    """`history/<yyyy-mm>.html`: every incident that began in that month, newest first."""
    pages = _in_shell(page, "history", "month_pages.html", months=months)
    return [
        SiteFile(f"history/{month.isoformat()[:7]}.html", html, HTML, HTML_CACHE_CONTROL)
        for (month, _), html in zip(months, pages, strict=True)
    ]


def _in_shell(page: StatusPage, here: str, template: str, **values: object) -> list[bytes]:
    """Pages one folder down, rendered in one pass of `template` (a title and a body for each, separated by CUT)
    and set into the page shell, rendered once: a full template render per page would cost several times more."""
    env = _environment()
    head, middle, tail = env.get_template("shell.html").render(page=page, root="../", here=here, cut=CUT).split(CUT)
    middle = f" · {escape(page.title)}{middle}"
    pieces = env.get_template(template).render(page=page, **values).split(CUT)
    return [
        f"{head}{title.strip()}{middle}{body.strip()}{tail}".encode()
        for title, body in zip(pieces[0::2], pieces[1::2], strict=False)
    ]


def render_site(
    page: StatusPage,
    changed: Collection[str] | None = None,
    months: Mapping[date, tuple[PublicIncident, ...]] | None = None,
    archive: Collection[date] | None = None,
) -> list[SiteFile]:
    """The site's files in publishing order: the stylesheet, the JSON API and feeds, incident pages (only those in
    `changed` when given), the month pages of the history that hold them, `history.html`, and `index.html` last —
    so no published page ever links to a file that is not there yet.

    A page that holds only the incidents its windows reach (not the whole history) comes with `months`, the whole
    content of each month page to render, and `archive`, every month that has a page."""
    files = [stylesheet()]
    for path, document in statuspage_api.documents(page).items():
        files.append(SiteFile(path, _json(document), JSON, API_CACHE_CONTROL))
    files.append(SiteFile("history.atom", atom_feed(page), ATOM, FEED_CACHE_CONTROL))
    files.append(SiteFile("history.rss", rss_feed(page), RSS, FEED_CACHE_CONTROL))
    wanted = None if changed is None else set(changed)
    files += render_incident_pages(page, (i for i in page.incidents if wanted is None or i.id in wanted))

    by_month = _by_month(page.incidents)
    if months is None:
        months = {
            month: incidents
            for month, incidents in by_month.items()
            if wanted is None or any(incident.id in wanted for incident in incidents)
        }
    files += render_month_pages(page, sorted(months.items(), reverse=True))
    recent = _recent_months(page.now)
    archived = sorted(set(by_month if archive is None else archive), reverse=True)
    env = _environment()
    history = env.get_template("history.html").render(
        page=page,
        root="",
        here="history",
        months=[(month, by_month.get(month, ())) for month in recent],
        archive=[month for month in archived if month < recent[-1]],
    )
    files.append(SiteFile("history.html", history.encode(), HTML, HTML_CACHE_CONTROL))
    table = [
        (records[0].day, records)
        for records in reversed(list(zip(*(c.history.days for c in page.components if c.history), strict=True)))
    ]
    index = env.get_template("index.html").render(page=page, root="", here="index", table=table)
    files.append(SiteFile("index.html", index.encode(), HTML, HTML_CACHE_CONTROL))
    return files


def _json(document: dict) -> bytes:
    """Compact JSON; <, > and & as \\u escapes (the same strings to any parser), so no browser or proxy that sniffs
    content can ever take a public update for markup."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def _by_month(incidents: tuple[PublicIncident, ...]) -> dict[date, tuple[PublicIncident, ...]]:
    """Incidents by the UTC month they started in, newest month first (incidents are newest first already)."""
    months: dict[date, list[PublicIncident]] = {}
    for incident in incidents:
        started = incident.started_at.astimezone(UTC)
        months.setdefault(date(started.year, started.month, 1), []).append(incident)
    return {month: tuple(listed) for month, listed in sorted(months.items(), reverse=True)}


def _recent_months(now: datetime) -> list[date]:
    """This month and the ones before it, newest first."""
    year, month = now.astimezone(UTC).year, now.astimezone(UTC).month
    recent = []
    for _ in range(HISTORY_MONTHS):
        recent.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return recent
