"""Render the public status site: a StatusPage in, the static files of `$web` out. Pure."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from shared.public_view import PUBLIC_STATUS_LABEL, PublicIncident, StatusPage
from shared.timeutil import iso

# Pages change within seconds of an incident update; a short max-age keeps CDNs and browsers close behind.
HTML_CACHE_CONTROL = "public, max-age=30"
HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class SiteFile:
    path: str  # blob name inside $web
    body: bytes
    content_type: str
    cache_control: str


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("shared", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(when=_when, status_label=PUBLIC_STATUS_LABEL.get)
    return env


def _when(moment: datetime) -> Markup:
    text = moment.strftime("%d %b %Y, %H:%M UTC")
    return Markup('<time datetime="{}">{}</time>').format(iso(moment), escape(text))


def render_incident_page(page: StatusPage, incident: PublicIncident) -> SiteFile:
    html = _environment().get_template("incident.html").render(page=page, incident=incident, root="../")
    return SiteFile(f"incidents/{incident.id}.html", html.encode(), HTML, HTML_CACHE_CONTROL)


def render_site(page: StatusPage, changed: Collection[str] | None = None) -> list[SiteFile]:
    """The site's files in publishing order, incident pages first and `index.html` last.

    With `changed`, only those incidents' pages (and the index) are rendered: a change to one incident leaves every
    other incident page as it was.
    """
    incidents = [i for i in page.active + page.past if changed is None or i.id in changed]
    files = [render_incident_page(page, incident) for incident in incidents]
    index = _environment().get_template("index.html").render(page=page, root="")
    files.append(SiteFile("index.html", index.encode(), HTML, HTML_CACHE_CONTROL))
    return files
