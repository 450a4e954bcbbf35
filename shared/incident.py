"""The incident: its current state, derived from timeline events by pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared import severity as severity_policy
from shared.alert import Alert
from shared.catalog import Service
from shared.timeline import ALERT_FIRED, ALERT_RESOLVED, TimelineEvent, event_id

# Lifecycle: triggered → acknowledged → investigating → identified → monitoring → resolved → postmortem → closed.
TRIGGERED = "triggered"
CLOSED_STATUSES = ("resolved", "postmortem", "closed")

SOURCE_MONITORING = "monitoring"


@dataclass(frozen=True)
class Incident:
    id: str
    number: int
    title: str  # internal: the alert rule or the declarer's words; never published
    service: str
    component: str  # public component name from the service catalog
    severity: int  # 1 (worst) … 4
    status: str
    source: str  # monitoring | customer | slo | person
    detected_at: datetime  # first signal: when did we know
    declared_at: datetime  # when Firebell opened the incident
    updated_at: datetime
    version: int = 1  # bumped on every change; the status page never publishes an older version over a newer one

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES


def incident_id(number: int) -> str:
    return f"INC-{number}"


def open_from_alert(alert: Alert, service: Service, number: int, now: datetime) -> tuple[Incident, TimelineEvent]:
    """A firing alert that belongs to no incident yet opens one; the 'alert fired' event is its first record."""
    ident = incident_id(number)
    incident = Incident(
        id=ident,
        number=number,
        title=alert.rule or alert.description or f"{alert.monitoring_service} alert",
        service=service.id,
        component=service.component,
        severity=severity_policy.from_azure(alert.severity),
        status=TRIGGERED,
        source=SOURCE_MONITORING,
        detected_at=alert.fired_at,
        declared_at=now,
        updated_at=now,
    )
    return incident, alert_event(ident, alert, now)


def alert_event(ident: str, alert: Alert, now: datetime) -> TimelineEvent:
    """The timeline record of an alert delivery: 'fired' or 'resolved', one per alert and condition."""
    fired = alert.condition == "Fired"
    at = alert.fired_at if fired else (alert.resolved_at or now)
    verb = "fired" if fired else "resolved"
    # The id comes from the alert's own times only, so every redelivery of the same fact has the same id.
    stable_time = alert.fired_at if fired else (alert.resolved_at or alert.fired_at)
    return TimelineEvent(
        incident_id=ident,
        event_id=event_id(stable_time, f"alert-{verb}-{alert.key}"),
        kind=ALERT_FIRED if fired else ALERT_RESOLVED,
        at=at,
        recorded_at=now,
        actor="Azure Monitor",
        source="azure-monitor",
        text=f"Alert {verb}: {alert.rule or alert.key} ({alert.severity or 'no severity'}, {alert.monitoring_service})",
        data={"alert": alert.key, "rule": alert.rule, "targets": list(alert.targets)},
    )
