"""Export incidents with their timelines as JSON lines: one incident per line, its timeline in time order, in the
document GET /api/incidents/{id} answers (shared.incidents.internal_view).

Streamed: incidents are read from the table a page at a time and each line is written before the next incident's
timeline is read, so memory holds one incident's timeline, not the history.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from shared.catalog.services import Catalog
from shared.incidents.internal_view import incident_document
from shared.incidents.store import IncidentStore
from shared.incidents.timeline import TimelineEvent


def in_time_order(timeline: list[TimelineEvent]) -> list[TimelineEvent]:
    """When each thing happened, then when it was recorded; the id breaks ties (rows sort by an anchor time that a
    consumer's note may not share with its own `at`)."""
    return sorted(timeline, key=lambda event: (event.at, event.recorded_at, event.event_id))


def export_incidents(
    store: IncidentStore,
    catalog: Catalog,
    out: TextIO,
    *,
    statuses: tuple[str, ...] | None = None,
    declared_since: datetime | None = None,
    written: Callable[[int], None] | None = None,
) -> int:
    """Write the incidents (those in `statuses`, declared at or after `declared_since`) to `out`; returns how many.
    `written` hears each incident's number of timeline events."""
    count = 0
    for incident in store.each_incident(statuses, declared_since):
        timeline = in_time_order(store.timeline(incident.id))
        document = incident_document(incident, catalog.service(incident.service), timeline)
        out.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
        if written is not None:
            written(len(timeline))
    return count
