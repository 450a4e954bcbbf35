"""The incident: its current state, which answers the five questions, derived from timeline events.

When did we know (detected_at, declared_at), how did we know (source, source_detail), am I the first to know
(notified, acknowledged_by), what is being done (status, latest_update), how bad is it (severity, components,
customer_impact).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from shared.core.errors import InvalidInput

# Lifecycle: triggered → acknowledged → investigating → identified → monitoring → resolved → postmortem → closed.
TRIGGERED, ACKNOWLEDGED, INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED = (
    "triggered",
    "acknowledged",
    "investigating",
    "identified",
    "monitoring",
    "resolved",
)
POSTMORTEM, CLOSED = "postmortem", "closed"  # the review under way; done with
STATUSES = (TRIGGERED, ACKNOWLEDGED, INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED, POSTMORTEM, CLOSED)
CLOSED_STATUSES = (RESOLVED, POSTMORTEM, CLOSED)
OPEN = "open"  # filter shorthand: every status before resolved

# How we knew.
SOURCE_MONITORING, SOURCE_CUSTOMER, SOURCE_SLO, SOURCE_PERSON = "monitoring", "customer", "slo", "person"
SOURCES = (SOURCE_MONITORING, SOURCE_CUSTOMER, SOURCE_SLO, SOURCE_PERSON)


@dataclass(frozen=True)
class Incident:
    id: str
    number: int
    title: str  # internal: the alert rule or the declarer's words; never published
    service: str
    components: tuple[str, ...]  # impacted public components, from the service catalog
    severity: int  # 1 (worst) … 4
    status: str
    source: str  # monitoring | customer | slo | person
    source_detail: str  # which monitor, SLO, customer report or person
    detected_at: datetime  # first signal: when did we know
    declared_at: datetime  # when the incident was opened
    updated_at: datetime
    last_alert_at: datetime | None = None  # the latest signal from monitoring
    description: str = ""  # internal
    customer_impact: str = ""  # internal words on what customers experience
    started_at: datetime | None = None  # when customer impact began, if someone knows better than detected_at
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    roles: tuple[tuple[str, str], ...] = ()  # (role, person) pairs; several subject-matter experts may share one role
    notified: tuple[str, ...] = ()  # people paged or told (filled by notifications)
    acknowledged_by: tuple[str, ...] = ()
    latest_update: str = ""
    latest_update_at: datetime | None = None
    next_update_at: datetime | None = None  # promised time of the next public update
    group: str | None = None  # the alert group this incident collects while open (see detection.group_key)
    # Public component statuses set by the communication coordinator: (component, status) pairs that replace the
    # status derived from severity while the incident is open.
    component_overrides: tuple[tuple[str, str], ...] = ()
    work_item_id: int | None = None  # the Azure Boards work item tracking this incident
    work_item_url: str | None = None
    channel_id: str | None = None  # the incident's Teams channel (shared.channels)
    channel_url: str | None = None
    version: int = 1  # bumped on every change; the status page never publishes an older version over a newer one
    drill: bool = False  # an exercise (shared.incidents.drill): set at opening, never changed

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    def changed(self, now: datetime, **changes: object) -> Incident:
        """A new state of this incident: every change bumps the version and the update time."""
        if "drill" in changes:
            raise ValueError("an incident is a drill from its opening or never")
        return dataclasses.replace(self, **changes, updated_at=now, version=self.version + 1)


def incident_id(number: int) -> str:
    return f"INC-{number}"


def incident_number(ident: str) -> int | None:
    """The number in 'INC-7' (case-insensitive), or None when the text is not an incident id."""
    prefix, _, digits = ident.strip().partition("-")
    if prefix.upper() != "INC" or not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        return None
    return int(digits)


def status_filter(value: str | None) -> tuple[str, ...] | None:
    """The statuses a filter names (`open`, or statuses separated by commas); None for no filter. InvalidInput for
    a name that is neither (the incidents API and the operator tools read the same filter)."""
    if not value:
        return None
    wanted: list[str] = []
    for name in (part.strip().lower() for part in value.split(",")):
        if name == OPEN:
            wanted += [status for status in STATUSES if status not in CLOSED_STATUSES]
        elif name in STATUSES:
            wanted.append(name)
        else:
            raise InvalidInput(f"status {name[:40]!r} is unknown; use open or one of {', '.join(STATUSES)}")
    return tuple(dict.fromkeys(wanted))
