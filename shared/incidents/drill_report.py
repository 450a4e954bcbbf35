"""A drill's report: how the team did in the exercise. Pure: the drill and its timeline in, the report out.

Clocks run from the first signal (detected_at), as readiness's time to acknowledge does:
- time to acknowledge: until the drill was acknowledged (a milestone correction counts, as in readiness);
- time to first public-update draft: until the first `update` (a drill's updates are drafts: never published);
- roles filled: who took each role first, and when; which of the roles every incident needs stayed empty;
- silences: stretches of at least `SILENCE` in which nobody said anything in Teams, from the first signal to the
  resolution (or to now while the drill runs) — the quiet a real incident's customers and stakeholders would feel.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.core.errors import InvalidInput
from shared.core.timeutil import iso
from shared.incidents.incident import Incident
from shared.incidents.roles import COMMANDER, COMMS, SCRIBE
from shared.incidents.timeline import PUBLIC_UPDATE, ROLE_ASSIGNED, ROLE_HANDED_OFF, TimelineEvent

SILENCE = timedelta(minutes=10)
EXPECTED_ROLES = (COMMANDER, COMMS, SCRIBE)  # what every drill should have filled
_PEOPLE_SOURCE = "teams"  # events people wrote by talking to Firebell in Teams


@dataclass(frozen=True)
class RoleFilled:
    role: str
    person: str
    at: datetime
    seconds: float  # after the first signal


@dataclass(frozen=True)
class Silence:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return _span(self.start, self.end)


@dataclass(frozen=True)
class DrillReport:
    incident_id: str
    detected_at: datetime
    until: datetime  # the resolution, or the moment of the report while the drill runs
    time_to_acknowledge: float | None  # seconds; None: never acknowledged
    time_to_first_update: float | None  # seconds to the first public-update draft; None: none drafted
    roles: tuple[RoleFilled, ...]  # the first holder of each role, in the order roles were filled
    roles_missing: tuple[str, ...]  # of EXPECTED_ROLES, those nobody took
    silences: tuple[Silence, ...]


def drill_report(
    incident: Incident, timeline: Sequence[TimelineEvent], now: datetime, silence: timedelta = SILENCE
) -> DrillReport:
    """InvalidInput when the incident is not a drill: a real incident's figures belong to readiness."""
    if not incident.drill:
        raise InvalidInput(f"{incident.id} is not a drill; its figures are in the readiness report")
    start = incident.detected_at
    until = incident.resolved_at or now
    events = sorted(timeline, key=lambda event: (event.at, event.event_id))
    updates = [event.at for event in events if event.kind == PUBLIC_UPDATE]
    roles: dict[str, RoleFilled] = {}
    for event in events:
        role, person = _role_of(event)
        if role and person and role not in roles:
            roles[role] = RoleFilled(role, person, event.at, _after(start, event.at))
    return DrillReport(
        incident_id=incident.id,
        detected_at=start,
        until=until,
        time_to_acknowledge=_after(start, incident.acknowledged_at) if incident.acknowledged_at else None,
        time_to_first_update=_after(start, updates[0]) if updates else None,
        roles=tuple(roles.values()),
        roles_missing=tuple(role for role in EXPECTED_ROLES if role not in roles),
        silences=_silences(start, until, [e.at for e in events if e.source == _PEOPLE_SOURCE], silence),
    )


def report_document(report: DrillReport) -> dict[str, Any]:
    """The report as GET /api/incidents/{id}/drill answers it."""
    return {
        "incident": report.incident_id,
        "drill": True,
        "detected_at": iso(report.detected_at),
        "until": iso(report.until),
        "time_to_acknowledge_seconds": report.time_to_acknowledge,
        "time_to_first_update_draft_seconds": report.time_to_first_update,
        "roles_filled": [
            {"role": r.role, "person": r.person, "at": iso(r.at), "after_seconds": r.seconds} for r in report.roles
        ],
        "roles_missing": list(report.roles_missing),
        "silences": [{"from": iso(s.start), "until": iso(s.end), "seconds": s.seconds} for s in report.silences],
        "silence_threshold_seconds": SILENCE.total_seconds(),
    }


def _role_of(event: TimelineEvent) -> tuple[str | None, str | None]:
    data = event.data
    if event.kind == ROLE_ASSIGNED:
        return _text(data.get("role")), _text(data.get("person"))
    if event.kind == ROLE_HANDED_OFF:
        return _text(data.get("role")) or COMMANDER, _text(data.get("to"))
    return None, None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _after(start: datetime, moment: datetime) -> float:
    # A corrected milestone before the first signal counts as zero, never as a negative time (as in readiness).
    return max(0.0, _span(start, moment))


def _span(start: datetime, end: datetime) -> float:
    """Seconds between two moments as the report shows them (milliseconds), so its figures add up to its times."""
    return (_shown(end) - _shown(start)).total_seconds()


def _shown(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _silences(start: datetime, until: datetime, spoken: list[datetime], silence: timedelta) -> tuple[Silence, ...]:
    marks = [start, *(moment for moment in spoken if start < moment < until), until]
    gaps = (Silence(a, b) for a, b in itertools.pairwise(marks) if b > a)
    return tuple(gap for gap in gaps if gap.end - gap.start >= silence)
