"""What the public may see: incidents reduced to component names, public status and public words.

Pure. Nothing internal (alert text, rule names, resource ids, people, notes) ever reaches these dataclasses,
so no template can leak it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from shared.catalog import Catalog
from shared.incident import Incident
from shared.timeline import PUBLIC_UPDATE, TimelineEvent

# Statuspage vocabulary.
OPERATIONAL = "operational"
COMPONENT_STATUS_BY_SEVERITY = {
    1: "major_outage",
    2: "partial_outage",
    3: "degraded_performance",
    4: "degraded_performance",
}
COMPONENT_STATUS_LABEL = {
    OPERATIONAL: "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "under_maintenance": "Under maintenance",
}
_COMPONENT_STATUS_RANK = ["operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"]
IMPACT_BY_SEVERITY = {1: "critical", 2: "major", 3: "minor", 4: "minor"}
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
RESOLVED_WORDING = "This incident has been resolved."
_BANNER = {
    "none": "All systems operational",
    "minor": "Minor service disruption",
    "major": "Partial system outage",
    "critical": "Major system outage",
}


@dataclass(frozen=True)
class PublicUpdate:
    at: datetime
    status: str
    body: str


@dataclass(frozen=True)
class PublicIncident:
    id: str
    name: str
    status: str
    impact: str
    components: tuple[str, ...]
    started_at: datetime
    updated_at: datetime
    updates: tuple[PublicUpdate, ...]  # newest first, as Statuspage lists them
    next_update_at: datetime | None = None  # promised by the communication coordinator; shown while active

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True)
class PublicComponent:
    name: str
    status: str

    @property
    def label(self) -> str:
        return COMPONENT_STATUS_LABEL[self.status]


@dataclass(frozen=True)
class StatusPage:
    title: str
    indicator: str  # none | minor | major | critical
    components: tuple[PublicComponent, ...]
    active: tuple[PublicIncident, ...]
    past: tuple[PublicIncident, ...]
    updated_at: datetime | None  # from the data, never the build clock

    @property
    def banner(self) -> str:
        return _BANNER[self.indicator]


def public_incident(incident: Incident, timeline: Iterable[TimelineEvent] | None = None) -> PublicIncident:
    """The incident in public words: the updates people posted for the public, framed by safe defaults.

    Without its timeline only the latest public update (kept on the incident) is known — enough for the index.
    """
    status = PUBLIC_STATUS[incident.status]
    # Until the communication coordinator posts words of their own, customers get a safe default.
    opening = PublicUpdate(
        at=incident.declared_at,
        status="investigating",
        body=f"We are investigating an issue affecting {_listed(incident.components)}.",
    )
    if timeline is None:
        latest = incident.latest_update_at
        posted = [PublicUpdate(latest, status, incident.latest_update)] if latest and incident.latest_update else []
    else:
        posted = [
            PublicUpdate(at=event.at, status=str(event.data.get("status")), body=str(event.data.get("public_text")))
            for event in timeline
            if event.public and event.kind == PUBLIC_UPDATE and event.data.get("status") in PUBLIC_STATUS_LABEL
        ]
    updates = [opening, *posted]
    if status == "resolved":
        updates.append(PublicUpdate(incident.resolved_at or incident.updated_at, "resolved", RESOLVED_WORDING))
    return PublicIncident(
        id=incident.id,
        name=f"Issue affecting {_listed(incident.components)}",
        status=status,
        impact=IMPACT_BY_SEVERITY[incident.severity],
        components=incident.components,
        started_at=incident.declared_at,
        updated_at=incident.updated_at,
        updates=tuple(sorted(updates, key=lambda update: update.at, reverse=True)),
        next_update_at=incident.next_update_at if incident.is_open else None,
    )


def status_page(
    title: str,
    catalog: Catalog,
    incidents: list[Incident],
    timelines: Mapping[str, Iterable[TimelineEvent]] | None = None,
) -> StatusPage:
    """The whole page; `timelines` holds the events of the incidents whose full public history is rendered."""
    newest_first = sorted(incidents, key=lambda incident: (incident.declared_at, incident.number), reverse=True)
    published = [public_incident(incident, (timelines or {}).get(incident.id)) for incident in newest_first]
    active = tuple(incident for incident in published if incident.is_open)
    past = tuple(incident for incident in published if not incident.is_open)
    worst: dict[str, str] = {}
    for incident in incidents:
        if incident.is_open:
            status = COMPONENT_STATUS_BY_SEVERITY[incident.severity]
            for component in incident.components:
                current = worst.get(component, OPERATIONAL)
                worst[component] = max(current, status, key=_COMPONENT_STATUS_RANK.index)
    names = list(catalog.components())
    names += sorted(set(worst) - set(names))
    components = tuple(PublicComponent(name, worst.get(name, OPERATIONAL)) for name in dict.fromkeys(names))
    impacts = ["none"] + [i.impact for i in active]
    indicator = max(impacts, key=["none", "minor", "major", "critical"].index)
    updated_at = max((incident.updated_at for incident in incidents), default=None)
    return StatusPage(
        title=title, indicator=indicator, components=components, active=active, past=past, updated_at=updated_at
    )


def _listed(names: tuple[str, ...]) -> str:
    """'Checkout', 'Checkout and Search', 'Checkout, Search and Login'."""
    if len(names) <= 1:
        return "".join(names) or "our services"
    return f"{', '.join(names[:-1])} and {names[-1]}"
