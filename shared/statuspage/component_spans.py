"""An incident's public component statuses over time, from its timeline: each span a component spent in one status.

Pure. A component starts in the status the incident's severity gives it; a severity change moves every component
that has no override, and the communication coordinator's `component.status_set` moves one component (a status of
None hands it back to the severity). The spans run from declaration to resolution, or to `until` while the incident
is open, so the 90-day history, the incident's impact and the uptime figure all read the same record — before,
during and after resolution.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared.incidents.incident import Incident
from shared.incidents.timeline import COMPONENT_STATUS_SET, SEVERITY_CHANGED, TimelineEvent
from shared.statuspage.component_history import (
    DEGRADED_PERFORMANCE,
    MAJOR_OUTAGE,
    PARTIAL_OUTAGE,
    STATUS_RANK,
    Disruption,
    worst,
)

COMPONENT_STATUS_BY_SEVERITY = {1: MAJOR_OUTAGE, 2: PARTIAL_OUTAGE, 3: DEGRADED_PERFORMANCE, 4: DEGRADED_PERFORMANCE}


def incident_end(incident: Incident, until: datetime) -> datetime:
    """When the incident stopped affecting components: its resolution, or `until` while it is open."""
    if incident.is_open:
        return until
    return incident.resolved_at or incident.updated_at


def incident_spans(
    incident: Incident, timeline: Iterable[TimelineEvent] | None, until: datetime
) -> tuple[Disruption, ...]:
    """The incident's component status spans, in time order per component.

    Without the timeline only the row is known: while open, its current statuses over its whole span; once
    resolved, the worse of the severity's status and the last override (when each held is unknown).
    """
    start, end = incident.declared_at, incident_end(incident, until)
    derived = COMPONENT_STATUS_BY_SEVERITY.get(incident.severity, DEGRADED_PERFORMANCE)
    overrides = {name: status for name, status in incident.component_overrides if status in STATUS_RANK}
    names = list(dict.fromkeys([*incident.components, *overrides]))
    if timeline is None:
        if incident.is_open:
            return tuple(Disruption(name, overrides.get(name, derived), start, end) for name in names)
        return tuple(Disruption(name, worst(derived, overrides.get(name, derived)), start, end) for name in names)
    changes = [event for event in timeline if event.kind in (SEVERITY_CHANGED, COMPONENT_STATUS_SET)]
    changes.sort(key=lambda event: event.at)
    severity = _initial_severity(incident, changes)
    current: dict[str, str | None] = dict.fromkeys(incident.components)  # component → override (None: severity)
    opened: dict[str, tuple[str, datetime]] = {}  # component → (status, since)
    spans: list[Disruption] = []

    def settle(moment: datetime) -> None:
        for name, override in current.items():
            status = override or COMPONENT_STATUS_BY_SEVERITY.get(severity, DEGRADED_PERFORMANCE)
            held = opened.get(name)
            if held is not None and held[0] == status:
                continue
            if held is not None and moment > held[1]:
                spans.append(Disruption(name, held[0], held[1], moment))
            opened[name] = (status, moment if held is not None else start)

    settle(start)
    for event in changes:
        moment = min(max(event.at, start), end)  # a change outside the incident's life counts at its edge
        if event.kind == SEVERITY_CHANGED:
            to = event.data.get("to")
            if isinstance(to, int) and to in COMPONENT_STATUS_BY_SEVERITY:
                severity = to
        else:
            name, status = event.data.get("component"), event.data.get("status")
            if not isinstance(name, str) or (status is not None and status not in STATUS_RANK):
                continue
            current[name] = status
        settle(moment)
    # The row is the current state: a timeline that lost an event (or predates them) yields to it from its last
    # change; when the two agree this changes nothing.
    severity = incident.severity
    current = {name: overrides.get(name) for name in dict.fromkeys([*current, *overrides])}
    settle(min(max(incident.updated_at, start), end))
    for name, (status, since) in opened.items():
        if end > since or (incident.is_open and end == since):  # an open incident's statuses from its first instant
            spans.append(Disruption(name, status, since, end))
    spans.sort(key=lambda span: (names.index(span.component) if span.component in names else len(names), span.start))
    return tuple(spans)


def statuses_at_end(spans: Iterable[Disruption], names: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Each component's status in its last span (what an open incident gives it now)."""
    last: dict[str, Disruption] = {}
    for span in spans:
        if span.component not in last or span.start >= last[span.component].start:
            last[span.component] = span
    ordered = list(dict.fromkeys([*names, *last]))
    return tuple((name, last[name].status) for name in ordered if name in last)


def worst_statuses(spans: Iterable[Disruption], names: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Each component's worst status over the incident's life (what a resolved incident did to it)."""
    found: dict[str, str] = {}
    for span in spans:
        found[span.component] = worst(found.get(span.component, span.status), span.status)
    ordered = list(dict.fromkeys([*names, *found]))
    return tuple((name, found[name]) for name in ordered if name in found)


def _initial_severity(incident: Incident, changes: list[TimelineEvent]) -> int:
    for event in changes:
        if event.kind == SEVERITY_CHANGED and isinstance(event.data.get("from"), int):
            return event.data["from"]
    return incident.severity
