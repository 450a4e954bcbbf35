"""The `readiness` table: one summary row per resolved incident, partitioned by the month it was declared, so a
query for a time range reads only the partitions of those months and never a timeline.

Writes are guarded by the basis a summary was computed from (the incident's version and timeline length, see
shared.readiness.summary): a row is replaced only by a summary of a newer basis and removed only by a reopening
newer than it, each under the row's ETag — so two deliveries racing with different views never leave the older.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.core.contention import attempts
from shared.core.errors import StorageUnavailable
from shared.core.storage import StorageAccount
from shared.core.timeutil import parse_instant
from shared.readiness.summary import IncidentSummary, PageTally
from shared.readiness.window import Window

READINESS = "readiness"
_IF_UNCHANGED = {"match_condition": MatchConditions.IfNotModified}
_INSTANTS = ("declared_at", "detected_at", "started_at", "acknowledged_at", "mitigated_at", "resolved_at")


class ReadinessStore:
    def __init__(self, account: StorageAccount) -> None:
        self._account = account

    @property
    def table(self) -> TableClient:
        return self._account.table(READINESS)

    def save(self, summary: IncidentSummary) -> bool:
        """Write the incident's row unless one of the same or a newer basis is there; True when written."""
        entity = summary_row(summary)
        for _ in attempts():
            found = self._row(summary.month, summary.incident_id)
            try:
                if found is None:
                    self.table.create_entity(entity)
                elif _basis(found) >= summary.basis:
                    return False
                else:
                    self.table.update_entity(entity, UpdateMode.REPLACE, etag=found.metadata["etag"], **_IF_UNCHANGED)
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                continue  # another delivery wrote meanwhile: look again
            return True
        raise StorageUnavailable(f"the readiness row of {summary.incident_id} kept changing; retry later")

    def remove(self, incident_id: str, declared_at: datetime, version: int) -> bool:
        """Take out the row of an incident that was reopened at `version`, unless a later resolution wrote it."""
        month = declared_at.strftime("%Y-%m")
        for _ in attempts():
            found = self._row(month, incident_id)
            if found is None or _basis(found)[0] > version:
                return False
            try:
                self.table.delete_entity(month, incident_id, etag=found.metadata["etag"], **_IF_UNCHANGED)
            except ResourceModifiedError:
                continue
            except ResourceNotFoundError:
                return False
            return True
        raise StorageUnavailable(f"the readiness row of {incident_id} kept changing; retry later")

    def summaries(self, window: Window) -> Iterator[IncidentSummary]:
        """The summaries of incidents declared in the window (and of its service and severity): a range of the
        window's month partitions, filtered on the server, only the summary column read."""
        first, last = window.months
        query = "PartitionKey ge @first and PartitionKey le @last and declared_at ge @start and declared_at lt @end"
        parameters: dict[str, Any] = {"first": first, "last": last, "start": window.start, "end": window.end}
        if window.service is not None:
            query += " and service eq @service"
            parameters["service"] = window.service
        if window.severity is not None:
            query += " and severity eq @severity"
            parameters["severity"] = window.severity
        rows = self.table.query_entities(query, parameters=parameters, select=["summary"], results_per_page=1000)
        return (summary_from_json(json.loads(row["summary"])) for row in rows)

    def get(self, incident_id: str, declared_at: datetime) -> IncidentSummary | None:
        found = self._row(declared_at.strftime("%Y-%m"), incident_id)
        return None if found is None else summary_from_json(json.loads(found["summary"]))

    def _row(self, month: str, incident_id: str) -> Any | None:
        with contextlib.suppress(ResourceNotFoundError):
            return self.table.get_entity(month, incident_id)
        return None


def _basis(entity: Any) -> tuple[int, int]:
    return int(entity["version"]), int(entity["events"])


def summary_row(summary: IncidentSummary) -> dict[str, Any]:
    """The columns a query filters on, and the whole summary as one JSON column (one property to read per row)."""
    return {
        "PartitionKey": summary.month,
        "RowKey": summary.incident_id,
        "service": summary.service,
        "severity": summary.severity,
        "declared_at": summary.declared_at,
        "version": summary.version,
        "events": summary.events,
        "summary": json.dumps(summary_json(summary), separators=(",", ":")),
    }


def summary_json(summary: IncidentSummary) -> dict[str, Any]:
    document: dict[str, Any] = {
        name: getattr(summary, name)
        for name in (
            "incident_id",
            "service",
            "severity",
            "source",
            "cost_per_minute",
            "follow_ups",
            "updates_promised",
            "updates_late",
            "version",
            "events",
        )
    }
    for name in _INSTANTS:
        moment = getattr(summary, name)
        document[name] = moment.isoformat() if moment is not None else None
    document["pages"] = [[t.person, t.roster, t.period, t.hour, t.count] for t in summary.pages]
    return document


def summary_from_json(document: dict[str, Any]) -> IncidentSummary:
    values = dict(document)
    for name in _INSTANTS:
        values[name] = parse_instant(values[name]) if values[name] is not None else None
    values["pages"] = tuple(PageTally(*page) for page in values["pages"])
    return IncidentSummary(**values)
