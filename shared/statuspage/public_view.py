"""What the public may see: incidents and maintenances reduced to component names, public status and public words.

Pure. Nothing internal (incident titles, descriptions, alert text, rule names, resource ids, people, notes) ever
reaches these dataclasses, so no template, JSON document or feed built from them can leak it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.catalog.services import Catalog
from shared.core.settings import DEVELOPMENT_ID_KEY
from shared.core.text import clean
from shared.incidents.incident import Incident
from shared.incidents.timeline import PUBLIC_UPDATE, TimelineEvent
from shared.statuspage.component_history import (
    COMPONENT_STATUS_LABEL,
    DEGRADED_PERFORMANCE,
    MAJOR_OUTAGE,
    OPERATIONAL,
    PARTIAL_OUTAGE,
    STATUS_RANK,
    UNDER_MAINTENANCE,
    ComponentHistory,
    Disruption,
    daily_history,
    window_start,
    worst,
)
from shared.statuspage.component_spans import (
    incident_spans,
    statuses_at_end,
    worst_statuses,
)
from shared.statuspage.maintenance import COMPLETED, IN_PROGRESS, SCHEDULED, Maintenance
from shared.statuspage.public_ids import public_id

_DEVELOPMENT_KEY = DEVELOPMENT_ID_KEY.encode()

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# incidents.json, scheduled-maintenances.json and the feeds carry the most recent ones, as Statuspage does.
RECENT_LIMIT = 50
IMPACT_BY_SEVERITY = {1: "critical", 2: "major", 3: "minor", 4: "minor"}
# An incident's public impact follows the worst status it gives a component, so an override moves both together.
IMPACT_BY_COMPONENT_STATUS = {
    OPERATIONAL: "none",
    DEGRADED_PERFORMANCE: "minor",
    UNDER_MAINTENANCE: "minor",
    PARTIAL_OUTAGE: "major",
    MAJOR_OUTAGE: "critical",
}
IMPACTS = ("none", "minor", "major", "critical")
IMPACT_LABEL = {"none": "No impact", "minor": "Minor", "major": "Major", "critical": "Critical"}
# Internal lifecycle → the public incident status customers see.
PUBLIC_STATUS = {
    "triggered": "investigating",
    "acknowledged": "investigating",
    "investigating": "investigating",
    "identified": "identified",
    "monitoring": "monitoring",
    "resolved": "resolved",
    "postmortem": "resolved",
    "closed": "resolved",
}
PUBLIC_STATUS_LABEL = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}
MAINTENANCE_STATUS_LABEL = {
    SCHEDULED: "Scheduled",
    IN_PROGRESS: "In progress",
    "verifying": "Verifying",
    COMPLETED: "Completed",
}
RESOLVED_WORDING = "This incident has been resolved."
MAINTENANCE_SCHEDULED_WORDING = "We will be undergoing scheduled maintenance during this time."
MAINTENANCE_STARTED_WORDING = "Scheduled maintenance is currently in progress. We will provide updates as necessary."
MAINTENANCE_COMPLETED_WORDING = "The scheduled maintenance has been completed."
MAINTENANCE_CANCELLED_WORDING = "This scheduled maintenance has been cancelled."
# status.json's `description`: Statuspage's blended wording, from the worst component status…
_DESCRIPTION_BY_COMPONENT_STATUS = {
    DEGRADED_PERFORMANCE: "Partially Degraded Service",
    PARTIAL_OUTAGE: "Partial System Outage",
    MAJOR_OUTAGE: "Major System Outage",
}
# …or, when every component is operational, from the indicator.
_DESCRIPTION_BY_INDICATOR = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
    "maintenance": "Service Under Maintenance",
}
RECENT_DAYS = 14  # past incidents the index lists; older ones are in the history


@dataclass(frozen=True)
class PublicUpdate:
    at: datetime
    status: str
    body: str
    key: str = ""  # stable identity (the timeline event id, or what the default wording stands for)


@dataclass(frozen=True)
class PublicIncident:
    id: str  # the opaque public id (public_ids.py), never INC-n
    name: str
    status: str
    impact: str
    components: tuple[str, ...]
    started_at: datetime
    updated_at: datetime
    updates: tuple[PublicUpdate, ...]  # newest first, as Statuspage lists them
    next_update_at: datetime | None = None  # promised by the communication coordinator; shown while active
    # What the incident does to each component it touches: now while open, at its worst once resolved.
    component_statuses: tuple[tuple[str, str], ...] = ()
    resolved_at: datetime | None = None
    monitoring_at: datetime | None = None
    spans: tuple[Disruption, ...] = ()  # each component's status over the incident's life (component_spans.py)

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True)
class PublicMaintenance:
    id: str
    name: str  # public words
    description: str  # public words, may be empty
    components: tuple[str, ...]
    status: str  # scheduled | in_progress | completed, at the page's time
    scheduled_for: datetime
    scheduled_until: datetime
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None  # when the window closed (completed or cancelled), once it has
    cancelled: bool
    updates: tuple[PublicUpdate, ...]  # newest first


@dataclass(frozen=True)
class PublicComponent:
    name: str
    status: str
    position: int = 0  # 1-based, catalog order
    updated_at: datetime | None = None  # when its status last changed, as far as the data tells
    history: ComponentHistory | None = None

    @property
    def label(self) -> str:
        return COMPONENT_STATUS_LABEL[self.status]


@dataclass(frozen=True)
class StatusPage:
    title: str
    indicator: str  # none | minor | major | critical | maintenance
    components: tuple[PublicComponent, ...]
    active: tuple[PublicIncident, ...]
    past: tuple[PublicIncident, ...]
    updated_at: datetime | None  # from the data, never the build clock
    maintenances: tuple[PublicMaintenance, ...] = ()  # newest window first
    now: datetime = EPOCH  # the moment the page describes (maintenance state, history window)
    site_url: str = ""
    created_at: datetime = EPOCH  # the oldest fact in the data; components have no creation time of their own
    description: str = "All Systems Operational"  # Statuspage's blended wording
    incidents: tuple[PublicIncident, ...] = ()  # active and past, newest first

    @property
    def banner(self) -> str:
        return self.description[:1] + self.description[1:].lower()

    @property
    def in_progress(self) -> tuple[PublicMaintenance, ...]:
        return tuple(m for m in reversed(self.maintenances) if m.status == IN_PROGRESS)

    @property
    def upcoming(self) -> tuple[PublicMaintenance, ...]:
        return tuple(m for m in reversed(self.maintenances) if m.status == SCHEDULED)

    @property
    def recent(self) -> tuple[PublicIncident, ...]:
        """Past incidents of the last RECENT_DAYS, for the index."""
        since = self.now - timedelta(days=RECENT_DAYS)
        return tuple(i for i in self.past if (i.resolved_at or i.updated_at) >= since)


def public_incident(
    incident: Incident,
    timeline: Iterable[TimelineEvent] | None = None,
    id_key: bytes = _DEVELOPMENT_KEY,
    now: datetime | None = None,
) -> PublicIncident:
    """The incident in public words: the updates people posted for the public, framed by safe defaults, and its
    component statuses over time (an open incident's spans run to `now`, by default its last update).

    Without its timeline only the latest public update (kept on the incident) is known — enough for the index.
    """
    timeline = list(timeline) if timeline is not None else None
    status = PUBLIC_STATUS[incident.status]
    where = _listed(incident.components)
    # Until the communication coordinator posts words of their own, customers get a safe default.
    opening = PublicUpdate(
        incident.declared_at, "investigating", f"We are investigating an issue affecting {where}.", "opened"
    )
    if timeline is None:
        # The incident keeps its latest words, posted while it was open; once resolved, under which status they were
        # posted is unknown without the timeline, so they are left out rather than mislabelled.
        latest = incident.latest_update_at
        known = latest and incident.latest_update and status != "resolved"
        posted = [PublicUpdate(latest, status, _words(incident.latest_update), "latest")] if known else []
    else:
        posted = []
        for event in timeline:
            if event.kind == PUBLIC_UPDATE and event.public and event.data.get("status") in PUBLIC_STATUS_LABEL:
                words = _words(str(event.data.get("public_text", "")))
                posted.append(PublicUpdate(event.at, event.data["status"], words, event.event_id))
    updates = [opening, *posted]
    resolved_at = None
    if status == "resolved":
        resolved_at = incident.resolved_at or incident.updated_at
        if not any(update.status == "resolved" for update in posted):
            updates.append(PublicUpdate(resolved_at, "resolved", RESOLVED_WORDING, "resolved"))
    # Newest first. The sort is stable, so at the same instant what was posted stays newer than the default before
    # it; timelines come sorted, which makes this nearly free.
    updates.sort(key=_at)
    updates.reverse()
    monitoring_at = None
    for update in updates:
        if update.status == "monitoring":
            monitoring_at = update.at
    spans = incident_spans(incident, timeline, now or incident.updated_at)
    if incident.is_open:
        statuses = statuses_at_end(spans, incident.components)
    else:  # a resolved incident shows what it did, at its worst, not the last word said about it
        statuses = worst_statuses(spans, incident.components)
    return PublicIncident(
        id=public_id(incident.id, id_key),
        name=f"Issue affecting {where}",
        status=status,
        impact=_impact(incident, statuses),
        components=tuple(name for name, _ in statuses),
        started_at=incident.declared_at,
        updated_at=public_updated_at(incident),
        updates=tuple(updates),
        next_update_at=incident.next_update_at if incident.is_open else None,
        component_statuses=statuses,
        resolved_at=resolved_at,
        monitoring_at=monitoring_at,
        spans=spans,
    )


def public_updated_at(incident: Incident) -> datetime:
    """When the public last saw the incident change. After resolution nothing public changes — a milestone corrected,
    the review started or closed are internal — so a resolved incident stays as it was when it resolved."""
    if incident.is_open or incident.resolved_at is None:
        return incident.updated_at
    return min(incident.updated_at, incident.resolved_at)


def _public(
    incident: Incident, timeline: Iterable[TimelineEvent] | None, id_key: bytes, now: datetime
) -> PublicIncident:
    if timeline is not None or incident.is_open:
        return public_incident(incident, timeline, id_key, now)
    return _public_from_row(incident, id_key)


@functools.lru_cache(maxsize=20_000)
def _public_from_row(incident: Incident, id_key: bytes) -> PublicIncident:
    """Most resolved incidents of a long history are rendered from their row alone, and a row that has not changed
    (its version and every field) gives the same public incident: a warm instance builds it once."""
    return public_incident(incident, None, id_key)


def is_published(incident: Incident, catalog: Catalog) -> bool:
    """Whether the publication policy lets the public see the incident (shared/catalog/publication.py): never for
    a drill or an internal service; by severity, at once, once acknowledged or only once a public update was posted.

    Acknowledged means before it was mitigated or resolved: moving an incident to monitoring or resolved records an
    acknowledgement too, and an alert that resolves on its own (a false positive) must not become news by that."""
    if incident.drill or not catalog.is_public_service(incident.service):
        return False  # a drill is an exercise: customers never see it
    acknowledged = incident.acknowledged_at
    settled = [moment for moment in (incident.mitigated_at, incident.resolved_at) if moment is not None]
    if acknowledged is not None and settled and acknowledged >= min(settled):
        acknowledged = None
    return catalog.publication.public(incident.severity, acknowledged, incident.latest_update_at)


def _at(update: PublicUpdate) -> datetime:
    return update.at


def public_maintenance(maintenance: Maintenance, now: datetime) -> PublicMaintenance:
    """The maintenance window at `now`, with the updates Statuspage would have posted at each of its turns."""
    status = maintenance.status(now)
    cancelled_early = maintenance.cancelled_at is not None and maintenance.cancelled_at < maintenance.scheduled_until
    end = maintenance.cancelled_at if cancelled_early else maintenance.scheduled_until
    never_started = cancelled_early and end <= maintenance.scheduled_for
    updates = [
        PublicUpdate(
            maintenance.created_at,
            SCHEDULED,
            _words(maintenance.description) or MAINTENANCE_SCHEDULED_WORDING,
            "scheduled",
        )
    ]
    if now >= maintenance.scheduled_for and not never_started:
        updates.append(PublicUpdate(maintenance.scheduled_for, IN_PROGRESS, MAINTENANCE_STARTED_WORDING, "started"))
    if status == COMPLETED:
        words = MAINTENANCE_CANCELLED_WORDING if never_started else MAINTENANCE_COMPLETED_WORDING
        updates.append(PublicUpdate(end, COMPLETED, words, "completed"))
    updates.reverse()
    return PublicMaintenance(
        id=maintenance.id,
        name=clean(maintenance.name),
        description=_words(maintenance.description),
        components=maintenance.components,
        status=status,
        scheduled_for=maintenance.scheduled_for,
        scheduled_until=maintenance.scheduled_until,
        created_at=maintenance.created_at,
        updated_at=max(maintenance.updated_at, updates[0].at),
        ended_at=end if status == COMPLETED else None,
        cancelled=never_started,
        updates=tuple(updates),
    )


def status_page(
    title: str,
    catalog: Catalog,
    incidents: list[Incident],
    timelines: Mapping[str, Iterable[TimelineEvent]] | None = None,
    maintenances: Sequence[Maintenance] = (),
    now: datetime | None = None,
    site_url: str = "",
    id_key: bytes = _DEVELOPMENT_KEY,
) -> StatusPage:
    """The whole page at `now` (default: the newest change in the data, so a re-render of the same data is identical).

    Only the incidents the publication policy allows are on it (`is_published`), under their public ids.
    `timelines` holds the events of the incidents whose full public history is rendered (see `timelines_needed`).
    """
    incidents = [incident for incident in incidents if is_published(incident, catalog)]
    if now is None:
        updated_at = max(
            max((public_updated_at(incident) for incident in incidents), default=EPOCH),
            max((maintenance.updated_at for maintenance in maintenances), default=EPOCH),
        )
        now = updated_at if updated_at > EPOCH else EPOCH
    timelines = timelines or {}
    newest_first = sorted(incidents, key=lambda incident: (incident.declared_at, incident.number), reverse=True)
    published = tuple(_public(incident, timelines.get(incident.id), id_key, now) for incident in newest_first)
    return assemble_page(title, catalog, published, maintenances, now, site_url)


def assemble_page(
    title: str,
    catalog: Catalog,
    published: tuple[PublicIncident, ...],
    maintenances: Sequence[Maintenance],
    now: datetime,
    site_url: str = "",
    oldest: datetime | None = None,
) -> StatusPage:
    """The page at `now` from incidents already in public words (newest first): every incident the page's windows
    reach must be among them (see status_page); older ones change nothing but the month pages they are on, and
    `oldest`, when given, says when the oldest of them began (the page's creation time)."""
    updated_at = max(
        max((incident.updated_at for incident in published), default=EPOCH),
        max((maintenance.updated_at for maintenance in maintenances), default=EPOCH),
    )
    updated = updated_at if updated_at > EPOCH else None
    windows = tuple(
        public_maintenance(m, now)
        for m in sorted(maintenances, key=lambda m: (m.scheduled_for, m.id), reverse=True)
        if m.created_at <= now
    )

    current: dict[str, str] = {}  # component → status now
    changed_at: dict[str, datetime] = {}  # component → when its status last changed
    disruptions: list[Disruption] = []
    history_from = window_start(now)
    for public in published:
        end = public.resolved_at or now
        if end > history_from:  # older incidents are out of the daily history's window
            disruptions += public.spans
        for name, status in public.component_statuses:
            moment = public.updated_at if public.is_open else end
            if moment > changed_at.get(name, EPOCH):
                changed_at[name] = moment
            if public.is_open:
                current[name] = worst(current.get(name, OPERATIONAL), status)
    for window in windows:
        if window.cancelled:
            continue
        end = window.ended_at or window.scheduled_until
        for name in window.components:
            disruptions.append(Disruption(name, UNDER_MAINTENANCE, window.scheduled_for, end))
            moment = min(window.ended_at or window.scheduled_for, now)
            if window.status != SCHEDULED and moment > changed_at.get(name, EPOCH):
                changed_at[name] = moment
            if window.status == IN_PROGRESS:
                current[name] = worst(current.get(name, OPERATIONAL), UNDER_MAINTENANCE)

    # A maintenance window starting or ending changes the page as much as an edit does: it counts as an update.
    for window in windows:
        for turn in (window.scheduled_for, window.ended_at):
            if turn is not None and not window.cancelled and turn <= now and (updated is None or turn > updated):
                updated = turn
    names = list(catalog.public_components())
    names += sorted(set(current) - set(names))
    names = list(dict.fromkeys(names))
    histories = daily_history(names, disruptions, now)
    facts = [*(i.started_at for i in published), *(m.created_at for m in windows), *([oldest] if oldest else [])]
    created_at = min(facts, default=updated or now)
    components = tuple(
        PublicComponent(
            name, current.get(name, OPERATIONAL), position, changed_at.get(name, created_at), histories[name]
        )
        for position, name in enumerate(names, start=1)
    )
    active = tuple(incident for incident in published if incident.is_open)
    past = tuple(incident for incident in published if not incident.is_open)
    indicator = max(["none", *(i.impact for i in active)], key=IMPACTS.index)
    if indicator == "none" and any(window.status == IN_PROGRESS for window in windows):
        indicator = "maintenance"
    # Impaired components say most; planned maintenance only speaks when nothing is impaired.
    impaired = [c.status for c in components if c.status not in (OPERATIONAL, UNDER_MAINTENANCE)]
    if impaired:
        description = _DESCRIPTION_BY_COMPONENT_STATUS[max(impaired, key=STATUS_RANK.__getitem__)]
    else:
        description = _DESCRIPTION_BY_INDICATOR[indicator]
    return StatusPage(
        title=clean(title),  # a setting
        indicator=indicator,
        components=components,
        active=active,
        past=past,
        updated_at=updated,
        maintenances=windows,
        now=now,
        site_url=site_url,
        created_at=created_at,
        description=description,
        incidents=published,
    )


def timelines_needed(
    incidents: Iterable[Incident], changed: Collection[str] | None = None, now: datetime | None = None
) -> list[str]:
    """The incidents whose timelines a render needs for full public histories: the pages being rendered (`changed`,
    or every incident when None), every open incident (the index and summary.json show their whole history), the
    most recent ones (incidents.json and the feeds) and, when `now` is given, every one that ended inside the 90-day
    history (its component status spans)."""
    newest_first = sorted(incidents, key=lambda incident: (incident.declared_at, incident.number), reverse=True)
    if changed is None:
        return [incident.id for incident in newest_first]
    wanted = set(changed)
    history_from = window_start(now) if now is not None else None
    return [
        incident.id
        for position, incident in enumerate(newest_first)
        if incident.id in wanted
        or incident.is_open
        or position < RECENT_LIMIT
        or (history_from is not None and (incident.resolved_at or incident.updated_at) > history_from)
    ]


def _impact(incident: Incident, statuses: tuple[tuple[str, str], ...]) -> str:
    if not statuses:
        return IMPACT_BY_SEVERITY[incident.severity]
    worst_status = max((status for _, status in statuses), key=STATUS_RANK.__getitem__)
    return IMPACT_BY_COMPONENT_STATUS[worst_status]


def _words(text: str) -> str:
    """Public words as the text policy allows them (shared.core.text): they were checked or cleaned on the way in,
    and this is the last guard for rows stored before that, so no page, feed or JSON document can be broken."""
    return clean(text, multiline=True)


def _listed(names: tuple[str, ...]) -> str:
    """'Checkout', 'Checkout and Search', 'Checkout, Search and Login'."""
    if len(names) <= 1:
        return "".join(names) or "our services"
    return f"{', '.join(names[:-1])} and {names[-1]}"
