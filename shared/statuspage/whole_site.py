"""The whole status site planned from every stored incident: rendered when the site has no record, when the renderer's
build or the site's settings changed, while the open index is incomplete, or when the operator asks (render-site).
It rewrites every month's list and page, and withdraws the incident pages the index no longer links to.

Pure: the publisher lists the whole `$web` container first, then reads the incidents, the maintenances and which
months have lists, and hands in how to read a timeline (asked only for the incidents this render needs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime

from shared.incidents.incident import Incident
from shared.incidents.timeline import TimelineEvent
from shared.statuspage.maintenance import Maintenance
from shared.statuspage.public_ids import public_id
from shared.statuspage.public_view import StatusPage, is_published, status_page, timelines_needed
from shared.statuspage.site import render_site
from shared.statuspage.site_plan import SitePlan, incident_page
from shared.statuspage.site_record import Known, SiteRecord, newest_first, reached
from shared.statuspage.site_settings import SiteSettings
from shared.statuspage.web_store import PublishedFile

_INCIDENT_PAGES = re.compile(r"incidents/[^/]+\.html")  # any incident page, public id or (from before them) INC-n
_MONTH_PAGE = re.compile(r"history/\d{4}-\d{2}\.html")


def plan_whole_site(
    record: SiteRecord | None,
    settings: SiteSettings,
    read_at: datetime,
    *,
    fingerprint: str,
    renderer: str,
    known: Mapping[str, PublishedFile],
    incidents: Iterable[Incident],
    maintenances: Sequence[Maintenance],
    listed_months: set[date],
    timeline: Callable[[str, int], list[TimelineEvent]],
) -> SitePlan:
    """The whole site from every stored incident (`incidents`), read after the whole container was listed (`known`);
    `listed_months`: the months that have a list beside the record."""
    # Drills are never public: they are not read further.
    stored = sorted((i for i in incidents if not i.drill), key=lambda i: i.number)
    title, catalog, site_url, id_key = settings
    # Only what the publication policy allows is read further, rendered or published, under its public id.
    shown = [incident for incident in stored if is_published(incident, catalog)]
    public_ids = {incident.id: public_id(incident.id, id_key) for incident in shown}
    behind = [
        incident.id
        for incident in shown
        if _page_behind(known.get(incident_page(public_ids[incident.id])), incident, renderer)
    ]
    # Public update histories and component status spans live on the timelines: read only those this render
    # needs (each once per incident version on this instance).
    versions = {incident.id: incident.version for incident in shown}
    needed = timelines_needed(shown, behind, read_at)
    timelines = {ident: timeline(ident, versions[ident]) for ident in needed}
    behind_ids = {public_ids[ident] for ident in behind}

    def in_public_words() -> tuple[StatusPage, list[Known]]:
        page = status_page(
            title,
            catalog,
            shown,
            timelines,
            maintenances=maintenances,
            now=read_at,
            site_url=site_url,
            id_key=id_key,
        )
        by_public = {public.id: public for public in page.incidents}
        everything = [
            Known.of(incident, by_public[public_ids[incident.id]] if incident.id in public_ids else None)
            for incident in stored
        ]
        return page, everything

    page, everything = in_public_words()
    # The record keeps its incidents in full public words, as a render after a change makes them: the few it
    # keeps beyond what this page needed (spare recent ones, a component's last two) are read and rendered again.
    missing = [k.ident for k in reached(everything, read_at) if k.ident not in timelines]
    if missing:
        timelines.update((ident, timeline(ident, versions[ident])) for ident in missing)
        page, everything = in_public_words()
    by_month: dict[date, tuple[Known, ...]] = {}
    for k in everything:
        by_month[k.month] = (*by_month.get(k.month, ()), k)
    public_months = {k.month for k in everything if k.public is not None}
    # Every month with a list or a page before is rewritten, so one emptied by withdrawals shows nothing and its
    # list keeps its withdrawn incidents without public words (a later change never brings them back).
    paged = {date.fromisoformat(m[8:15] + "-01") for m in known if _MONTH_PAGE.fullmatch(m)}
    lists = {month: by_month.get(month, ()) for month in public_months | paged | listed_months}
    months = {
        month: tuple(k.public for k in newest_first(listed) if k.public)
        for month, listed in lists.items()
        if month not in public_months or any(public_ids[k.ident] in behind_ids for k in listed if k.public)
    }
    files = render_site(page, behind_ids, months, public_months)
    # Above every state published before (by this scheme, or by the sum of versions before it).
    state = max([record.state if record else 0, *(f.version.state for f in known.values() if f.version)]) + 1
    next_record = SiteRecord(
        state=state,
        read_at=read_at,
        fingerprint=fingerprint,
        whole=True,
        oldest=min((public.started_at for public in page.incidents), default=None),
        months=tuple(sorted(public_months)),
        incidents=reached(everything, read_at),
    )
    # Pages the index no longer links to, listed before this render read the store, so written from data no
    # newer than ours: incidents the policy no longer shows, and `INC-n` pages from before public ids.
    pages = {incident_page(public) for public in public_ids.values()}
    stale = {path: None for path in known if _INCIDENT_PAGES.fullmatch(path) and path not in pages}
    subjects = {public_ids[incident.id]: incident.version for incident in shown}
    return SitePlan(record=next_record, files=files, subjects=subjects, lists=lists, withdrawn=stale, listing=known)


def _page_behind(published: PublishedFile | None, incident: Incident, renderer: str) -> bool:
    version = published.version if published else None
    return version is None or version.subject < incident.version or version.renderer != renderer
