"""The incident lifecycle: which status moves are allowed, and the milestones they record. Pure.

triggered → acknowledged → investigating → identified → monitoring → resolved → postmortem → closed.
Forward moves may skip states (an `identified` update on a triggered incident also acknowledges it, as on
Statuspage); the only way back is reopening a resolved incident. After resolution: `postmortem` starts the review,
`close` ends it — or ends a resolved incident whose severity needs no review.
"""

from __future__ import annotations

from datetime import datetime

from shared.catalog.severity import label
from shared.core.errors import InvalidInput
from shared.incidents.incident import (
    ACKNOWLEDGED,
    CLOSED,
    INVESTIGATING,
    MONITORING,
    POSTMORTEM,
    RESOLVED,
    STATUSES,
    TRIGGERED,
    Incident,
)

# Milestone name → the incident field that holds it.
MILESTONES = {
    "started": "started_at",
    "detected": "detected_at",
    "acknowledged": "acknowledged_at",
    "mitigated": "mitigated_at",
    "resolved": "resolved_at",
}


class RefusedTransition(InvalidInput):
    """A status move the lifecycle does not allow; the detail says why, for the reply to the person."""

    code = "refused_transition"


def advance(incident: Incident, target: str, by: str, now: datetime) -> Incident:
    """Move forward to `target`, recording the milestones passed on the way (acknowledged, mitigated, resolved)."""
    current = STATUSES.index(incident.status)
    wanted = STATUSES.index(target)
    if wanted < current:
        raise RefusedTransition(
            f"{incident.id} is {incident.status}; it cannot go back to {target}"
            + (" (reopen it first)" if not incident.is_open else "")
        )
    if wanted == current:
        raise RefusedTransition(f"{incident.id} is already {target}")
    changes: dict[str, object] = {"status": target}
    if wanted >= STATUSES.index(ACKNOWLEDGED) and incident.acknowledged_at is None:
        changes["acknowledged_at"] = now
        changes["acknowledged_by"] = tuple(dict.fromkeys((*incident.acknowledged_by, by)))
    if wanted >= STATUSES.index(MONITORING) and incident.mitigated_at is None:
        changes["mitigated_at"] = now
    if wanted >= STATUSES.index(RESOLVED) and incident.resolved_at is None:
        changes["resolved_at"] = now
    return incident.changed(now, **changes)


def reopen(incident: Incident, now: datetime) -> Incident:
    if incident.is_open:
        raise RefusedTransition(f"{incident.id} is {incident.status}, not resolved: there is nothing to reopen")
    if incident.status != RESOLVED:
        raise RefusedTransition(f"{incident.id} is in {incident.status}; only a resolved incident can be reopened")
    status = INVESTIGATING if incident.acknowledged_at else TRIGGERED
    return incident.changed(now, status=status, resolved_at=None)


def correct_milestone(incident: Incident, name: str, at: datetime, now: datetime) -> tuple[Incident, datetime | None]:
    """Set a milestone to the time a person knows better; returns the new state and the value it replaced."""
    field = MILESTONES[name]
    if at > now:
        raise RefusedTransition(f"the {name} milestone cannot be in the future")
    previous = getattr(incident, field)
    return incident.changed(now, **{field: at}), previous


def start_review(incident: Incident, now: datetime) -> Incident:
    """resolved → postmortem: the blameless review starts (only a resolved incident has a whole timeline)."""
    if incident.is_open:
        raise RefusedTransition(f"{incident.id} is {incident.status}; resolve it before its review starts")
    if incident.status != RESOLVED:
        raise RefusedTransition(f"{incident.id} is {incident.status}; its review has started already")
    return incident.changed(now, status=POSTMORTEM)


def close(incident: Incident, review_required: bool, now: datetime) -> Incident:
    """postmortem → closed, or resolved → closed when the incident's severity needs no review."""
    if incident.is_open:
        raise RefusedTransition(f"{incident.id} is {incident.status}; resolve it before closing it")
    if incident.status == CLOSED:
        raise RefusedTransition(f"{incident.id} is already closed")
    if incident.status == RESOLVED and review_required:
        raise RefusedTransition(
            f"{incident.id} is {label(incident.severity)}, which needs a post-incident review before it closes: "
            f"start it with postmortem {incident.id} <facilitator>"
        )
    return incident.changed(now, status=CLOSED)
