"""Detection: how Azure Monitor alerts open, join, escalate and settle incidents. Pure decisions, no storage.

The alert intake (shared.alert_intake) reads the store, asks these functions what should happen, and writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.azure_monitor.alert import FIRED, Alert
from shared.azure_monitor.statefulness import never_resolves
from shared.catalog.services import Service
from shared.catalog.severity import label
from shared.incidents.drill import drill_group, labelled
from shared.incidents.incident import (
    INVESTIGATING,
    MONITORING,
    RESOLVED,
    SOURCE_MONITORING,
    SOURCE_SLO,
    TRIGGERED,
    Incident,
    incident_id,
)
from shared.incidents.timeline import (
    ALERT_FIRED,
    ALERT_RESOLVED,
    SEVERITY_CHANGED,
    STATUS_CHANGED,
    TimelineEvent,
    event_id,
)

AZURE_MONITOR = "Azure Monitor"
FIREBELL = "Firebell"
# Alerts whose rule carries this custom property come from SLO burn-rate monitoring; its value names the SLO.
SLO_PROPERTY = "slo"


@dataclass(frozen=True)
class Change:
    """A decided change to an incident: its new state and the timeline events that explain it."""

    incident: Incident
    events: tuple[TimelineEvent, ...]


@dataclass(frozen=True)
class GroupPointer:
    """Which open incident collects a group's alerts, and since when (for the grouping window)."""

    key: str
    incident_id: str
    detected_at: datetime


def service_group_key(service: Service) -> str | None:
    """The group of a service that collects all its alerts in one open incident (also one a person declared)."""
    return f"service-{service.id}" if service.group_by == "service" else None


def group_key(service: Service, alert: Alert) -> str | None:
    """Alerts with the same group key share an open incident; None means the alert gets an incident of its own.
    Drill alerts group apart from real ones (shared.incidents.drill)."""
    if service.group_by == "service":
        return drill_group(service_group_key(service), alert.drill)
    if service.group_by == "rule" and alert.rule:
        # Rule names may hold characters table keys cannot; a digest is short and safe.
        return drill_group(f"rule-{service.id}-{hashlib.sha256(alert.rule.encode()).hexdigest()[:16]}", alert.drill)
    return None


def may_join(pointer: GroupPointer, service: Service, alert: Alert) -> bool:
    """Within the service's grouping window, measured from the incident's first alert to this alert's firing."""
    if service.group_window_minutes == 0:
        return True
    return alert.fired_at - pointer.detected_at <= timedelta(minutes=service.group_window_minutes)


def detection_source(alert: Alert) -> tuple[str, str]:
    """How we knew: the source kind and the words that name the monitor (or the SLO) that told us."""
    monitor = f"{AZURE_MONITOR} {alert.monitoring_service}" + (f" alert rule {alert.rule!r}" if alert.rule else "")
    slo = alert.custom_properties.get(SLO_PROPERTY, "").strip()
    if slo:
        return SOURCE_SLO, f"SLO {slo!r} burn rate ({monitor})"
    return SOURCE_MONITORING, monitor


def open_from_alert(
    alert: Alert, service: Service, severity: int, number: int, group: str | None, now: datetime
) -> tuple[Incident, TimelineEvent]:
    """A firing alert that belongs to no open incident opens one; the 'alert fired' event is its first record."""
    ident = incident_id(number)
    source, detail = detection_source(alert)
    incident = Incident(
        id=ident,
        number=number,
        title=alert.rule or alert.summary or f"{alert.monitoring_service} alert",
        service=service.id,
        components=(service.component,),
        severity=severity,
        status=TRIGGERED,
        source=source,
        source_detail=detail,
        detected_at=alert.fired_at,
        started_at=alert.fired_at,  # until someone knows better (milestone … started …)
        declared_at=now,
        updated_at=now,
        description=alert.description or alert.summary,
        last_alert_at=alert.fired_at,
        group=group,
        drill=alert.drill,
    )
    return incident, alert_event(ident, alert, severity, now)


def alert_event_id(alert: Alert) -> str:
    """The id of an alert delivery's event. It comes from the alert's own times only, so every redelivery of the same
    fact has the same id."""
    fired = alert.condition == FIRED
    stable_time = alert.fired_at if fired else (alert.resolved_at or alert.fired_at)
    return event_id(stable_time, f"alert-{'fired' if fired else 'resolved'}-{alert.key}")


def alert_event(ident: str, alert: Alert, severity: int, now: datetime) -> TimelineEvent:
    """The timeline record of an alert delivery: 'fired' or 'resolved', one per alert and condition."""
    fired = alert.condition == FIRED
    verb = "fired" if fired else "resolved"
    summary = f": {alert.summary}" if alert.summary else ""
    return TimelineEvent(
        incident_id=ident,
        event_id=alert_event_id(alert),
        kind=ALERT_FIRED if fired else ALERT_RESOLVED,
        at=alert.fired_at if fired else (alert.resolved_at or now),
        recorded_at=now,
        actor=AZURE_MONITOR,
        source="azure-monitor",
        text=labelled(
            f"Alert {verb}: {alert.rule or alert.key} ({label(severity)}, {alert.monitoring_service}){summary}",
            alert.drill,
        ),
        data={
            "alert": alert.key,
            "rule": alert.rule,
            "azure_severity": alert.severity,
            "severity": severity,
            "targets": list(alert.targets),
            "links": [{"label": link.label, "url": link.url} for link in alert.links],
            **({"stateless": True} if fired and never_resolves(alert.monitoring_service, alert.signal_type) else {}),
            **({"drill": True} if alert.drill else {}),
        },
    )


def on_alert_joined(incident: Incident, alert: Alert, severity: int, now: datetime) -> Change:
    """Another alert joined: a worse one raises the severity; one firing while monitoring reopens the investigation;
    one that fired before anything else we knew moves the detection time back."""
    changes: dict[str, object] = {"last_alert_at": max(incident.last_alert_at or alert.fired_at, alert.fired_at)}
    if alert.fired_at < incident.detected_at:
        changes["detected_at"] = alert.fired_at
    events: list[TimelineEvent] = []
    who = alert.rule or alert.key
    if severity < incident.severity:
        changes["severity"] = severity
        events.append(
            _incident_event(
                incident,
                SEVERITY_CHANGED,
                alert.fired_at,
                f"severity-{severity}-{alert.key}",
                f"Severity raised from {label(incident.severity)} to {label(severity)}: alert {who} joined",
                now,
                {"from": incident.severity, "to": severity, "alert": alert.key},
            )
        )
    if incident.status == RESOLVED:
        # It resolved between this alert joining and now (its siblings all resolved): the alert is still firing.
        status = INVESTIGATING if incident.acknowledged_at else TRIGGERED
        changes.update(status=status, resolved_at=None)
        events.append(
            _incident_event(
                incident,
                STATUS_CHANGED,
                alert.fired_at,
                f"status-reopened-{alert.key}",
                f"Reopened ({status}): alert {who} fired as the incident was resolving",
                now,
                {"from": RESOLVED, "to": status, "alert": alert.key},
            )
        )
    if incident.status == MONITORING:
        status = INVESTIGATING if incident.acknowledged_at else TRIGGERED
        changes["status"] = status
        events.append(
            _incident_event(
                incident,
                STATUS_CHANGED,
                alert.fired_at,
                f"status-{status}-{alert.key}",
                f"Back to {status}: alert {who} fired while the incident was being monitored",
                now,
                {"from": MONITORING, "to": status, "alert": alert.key},
            )
        )
    return Change(incident.changed(now, **changes), tuple(events))


def firing_alerts(timeline: Iterable[TimelineEvent]) -> set[str]:
    """Keys of the alerts on this timeline that fired and have not resolved since."""
    fired = {e.data.get("alert") for e in timeline if e.kind == ALERT_FIRED}
    resolved = {e.data.get("alert") for e in timeline if e.kind == ALERT_RESOLVED}
    return {key for key in fired - resolved if isinstance(key, str)}


def awaited_alerts(timeline: Iterable[TimelineEvent]) -> set[str]:
    """Of the firing alerts, those that will send `Resolved`: a stateless one never does, so nothing waits for it."""
    stateless = {e.data.get("alert") for e in timeline if e.kind == ALERT_FIRED and e.data.get("stateless")}
    return firing_alerts(timeline) - stateless


def on_alert_resolved(
    incident: Incident, service: Service, timeline: list[TimelineEvent], now: datetime
) -> Change | None:
    """When the last firing alert that can resolve resolves: monitoring, or resolved if the service auto-resolves.
    Stateless alerts that fired beside it do not hold the incident open: they never send `Resolved`."""
    if not incident.is_open or incident.status == MONITORING or awaited_alerts(timeline):
        return None
    resolutions = [e for e in timeline if e.kind == ALERT_RESOLVED]
    if not resolutions:
        return None
    last = max(resolutions, key=lambda e: e.at)
    count = len(resolutions)
    every = "The alert has" if count == 1 else f"All {count} alerts have"
    if service.auto_resolve:
        status = RESOLVED
        text = f"{every} resolved; resolved automatically (service {service.id} auto-resolves)"
        changes: dict[str, object] = {"status": RESOLVED, "resolved_at": last.at}
    else:
        status = MONITORING
        text = (
            f"{every} resolved; monitoring. Service {service.id} does not auto-resolve: "
            "resolve the incident when satisfied"
        )
        changes = {"status": MONITORING}
    # Every alert has resolved, so the incident's impact is mitigated by the time of the last resolution.
    changes["mitigated_at"] = incident.mitigated_at or last.at
    event = _incident_event(
        incident,
        STATUS_CHANGED,
        last.at,
        f"status-{status}-{last.data.get('alert')}",
        text,
        now,
        {"from": incident.status, "to": status, "reason": "alerts resolved"},
    )
    return Change(incident.changed(now, **changes), (event,))


def on_quiet(incident: Incident, service: Service, timeline: list[TimelineEvent], now: datetime) -> Change | None:
    """An open incident whose firing alerts are all stateless moves to monitoring once none has fired for the
    service's quiet period: nothing would ever resolve it otherwise, and a person still resolves it when satisfied."""
    if not incident.is_open or incident.status == MONITORING or incident.last_alert_at is None:
        return None
    firing = firing_alerts(timeline)
    if not firing or awaited_alerts(timeline):
        return None
    quiet_since = incident.last_alert_at + timedelta(minutes=service.stateless_quiet_minutes)
    if now < quiet_since:
        return None
    count = len(firing)
    which = "Its alert never sends" if count == 1 else f"Its {count} alerts never send"
    text = (
        f"{which} a resolution (stateless) and none has fired for {service.stateless_quiet_minutes} minutes; "
        "monitoring: resolve the incident when satisfied"
    )
    data = {"from": incident.status, "to": MONITORING, "reason": "stateless alerts quiet"}
    event = _incident_event(incident, STATUS_CHANGED, quiet_since, f"status-{MONITORING}-quiet", text, now, data)
    return Change(incident.changed(now, status=MONITORING), (event,))


def _incident_event(
    incident: Incident, kind: str, at: datetime, discriminator: str, text: str, now: datetime, data: dict
) -> TimelineEvent:
    # Ids are derived from the triggering fact (its time and alert), so a retried decision writes the same event.
    return TimelineEvent(
        incident_id=incident.id,
        event_id=event_id(at, discriminator),
        kind=kind,
        at=at,
        recorded_at=now,
        actor=FIREBELL,
        source="detection",
        text=text,
        data=data,
    )
