"""Alert intake: an Azure Monitor alert opens an incident or joins the one it already belongs to.

Race-safe and retry-safe: the alert key is claimed insert-if-absent, and every later write is an idempotent
insert, so concurrent or repeated deliveries of one alert give one incident and one 'alert fired' event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.adapters.incident_store import AlertRecord, IncidentStore
from shared.alert import FIRED, Alert
from shared.catalog import Catalog
from shared.incident import alert_event, open_from_alert


@dataclass(frozen=True)
class AlertIntake:
    alert_key: str
    incident_id: str | None
    deduplicated: bool
    event_id: str | None  # the timeline event this delivery added; None when it changed nothing


def receive_alert(alert: Alert, catalog: Catalog, store: IncidentStore, now: datetime) -> AlertIntake:
    record = store.find_alert(alert.key)
    if alert.condition != FIRED:
        return _record_resolution(alert, record, store, now)
    if record is not None:
        return _join(record, alert, catalog, store, now)
    number = store.allocate_number()
    incident, event = open_from_alert(alert, catalog.service_for(alert), number, now)
    if not store.claim_alert(alert.key, incident.id, alert.condition, _detail(alert)):
        # A concurrent delivery claimed the key first. Its number wins; ours stays unused (a gap, never a twin).
        claimed = store.find_alert(alert.key)
        assert claimed is not None, "an alert key that conflicted on insert must exist"
        return _join(claimed, alert, catalog, store, now)
    store.create_incident(incident)
    store.append_event(event)
    return AlertIntake(alert.key, incident.id, deduplicated=False, event_id=event.event_id)


def _join(record: AlertRecord, alert: Alert, catalog: Catalog, store: IncidentStore, now: datetime) -> AlertIntake:
    # The delivery that claimed this key may have stopped before writing the incident or its first event (a crash,
    # a timeout): finish its work. Both writes are idempotent inserts, so a plain repeat changes nothing.
    number = int(record.incident_id.removeprefix("INC-"))
    incident, event = open_from_alert(alert, catalog.service_for(alert), number, now)
    if store.get_incident(record.incident_id) is None:
        store.create_incident(incident)
    added = store.append_event(event)
    return AlertIntake(alert.key, record.incident_id, deduplicated=True, event_id=event.event_id if added else None)


def _record_resolution(alert: Alert, record: AlertRecord | None, store: IncidentStore, now: datetime) -> AlertIntake:
    if record is None:
        # Resolved before we ever saw it fire (or fired before Firebell existed): nothing to resolve.
        return AlertIntake(alert.key, None, deduplicated=False, event_id=None)
    event = alert_event(record.incident_id, alert, now)
    added = store.append_event(event)
    return AlertIntake(
        alert.key, record.incident_id, deduplicated=not added, event_id=event.event_id if added else None
    )


def _detail(alert: Alert) -> dict[str, object]:
    return {
        "rule": alert.rule,
        "severity": alert.severity,
        "service": alert.monitoring_service,
        "fired_at": alert.fired_at.isoformat(),
        "targets": list(alert.targets),
    }
