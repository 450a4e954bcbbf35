"""The internal view of an incident, for responders and tools (GET /api/incidents): the five questions first.

Pure: an incident and its timeline in, a JSON-ready document out. Internal words only leave through routes that
need a function key; the public status page has its own view (shared.public_view).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.catalog.services import Service
from shared.catalog.severity import label
from shared.core.timeutil import iso
from shared.incidents.incident import Incident
from shared.incidents.timeline import TimelineEvent


def incident_document(
    incident: Incident, service: Service | None, timeline: list[TimelineEvent] | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status,
        "severity": label(incident.severity),
        "service": incident.service,
        # When did we know, how did we know, who knows, what is being done, how bad is it.
        "detected_at": _time(incident.detected_at),
        "declared_at": _time(incident.declared_at),
        "detection_source": {"kind": incident.source, "detail": incident.source_detail},
        "who_knows": {"notified": list(incident.notified), "acknowledged_by": list(incident.acknowledged_by)},
        "latest_update": {"text": incident.latest_update, "at": _time(incident.latest_update_at)},
        "impact": {
            "components": list(incident.components),
            "customer_impact": incident.customer_impact,
            # The communication coordinator's say on the status page while the incident is open.
            "component_statuses": dict(incident.component_overrides),
        },
        "description": incident.description,
        "acknowledged_at": _time(incident.acknowledged_at),
        "resolved_at": _time(incident.resolved_at),
        "updated_at": _time(incident.updated_at),
        "version": incident.version,
        "drill": incident.drill,  # an exercise: never public, never measured (its report: …/drill)
        "runbook_url": service.runbook_url if service else None,
        "roster": service.roster if service else None,
        "work_item": {"id": incident.work_item_id, "url": incident.work_item_url} if incident.work_item_id else None,
        "channel": {"id": incident.channel_id, "url": incident.channel_url} if incident.channel_id else None,
    }
    if timeline is not None:
        # In time order: rows are keyed by when Firebell named the event, which for an alert's own time or a
        # corrected moment is not when it happened.
        ordered = sorted(timeline, key=lambda event: (event.at, event.event_id))
        document["timeline"] = [_event(event) for event in ordered]
    return document


def _event(event: TimelineEvent) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "kind": event.kind,
        "at": _time(event.at),
        "recorded_at": _time(event.recorded_at),
        "actor": event.actor,
        "source": event.source,
        "text": event.text,
        "public": event.public,
        "data": event.data,
    }


def _time(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None
