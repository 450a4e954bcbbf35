"""The incident store on Azure Tables: `incidents` (state + id counter), `timeline` (events), `alerts` (keys).

Writes are insert-if-absent or ETag-guarded; nothing here is last-write-wins.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.storage import StorageAccount
from shared.incident import Incident
from shared.timeline import TimelineEvent

INCIDENTS, TIMELINE, ALERTS = "incidents", "timeline", "alerts"
_INCIDENT_PARTITION = "incident"
_COUNTER = ("counter", "incident-number")
_INCIDENT_FIELDS = {f.name for f in fields(Incident)}


@dataclass(frozen=True)
class AlertRecord:
    key: str
    incident_id: str
    condition: str


class IncidentStore:
    def __init__(self, account: StorageAccount) -> None:
        self._account = account
        self._counter_lock = threading.Lock()
        self._counter: tuple[int, str] | None = None  # last seen (value, etag): a cheap first guess

    @property
    def incidents(self) -> TableClient:
        return self._account.table(INCIDENTS)

    @property
    def timeline_table(self) -> TableClient:
        return self._account.table(TIMELINE)

    @property
    def alerts(self) -> TableClient:
        return self._account.table(ALERTS)

    # --- incident ids -------------------------------------------------------------------------------------------
    def allocate_number(self) -> int:
        """Next incident number: an ETag-guarded increment, retried on conflict, so no two incidents share one."""
        with self._counter_lock:
            while True:
                if self._counter is None:
                    self._counter = self._read_counter()
                value, etag = self._counter
                try:
                    if etag:
                        meta = self.incidents.update_entity(
                            _counter_entity(value + 1),
                            mode=UpdateMode.REPLACE,
                            etag=etag,
                            match_condition=MatchConditions.IfNotModified,
                        )
                    else:
                        meta = self.incidents.create_entity(_counter_entity(value + 1))
                except (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError):
                    self._counter = None  # someone else moved it: read again and retry
                    continue
                self._counter = (value + 1, meta["etag"])
                return value + 1

    def _read_counter(self) -> tuple[int, str]:
        try:
            entity = self.incidents.get_entity(*_COUNTER)
        except ResourceNotFoundError:
            return 0, ""
        return int(entity["value"]), entity.metadata["etag"]

    # --- alerts ---------------------------------------------------------------------------------------------------
    def find_alert(self, key: str) -> AlertRecord | None:
        try:
            entity = self.alerts.get_entity(key, "alert")
        except ResourceNotFoundError:
            return None
        return AlertRecord(key=key, incident_id=entity["incident"], condition=entity["condition"])

    def claim_alert(self, key: str, incident_id: str, condition: str, detail: dict[str, Any]) -> bool:
        """Insert-if-absent: True when this caller bound the alert to `incident_id`, False when another did first."""
        entity = {
            "PartitionKey": key,
            "RowKey": "alert",
            "incident": incident_id,
            "condition": condition,
            "detail": json.dumps(detail),
        }
        try:
            self.alerts.create_entity(entity)
        except ResourceExistsError:
            return False
        return True

    # --- incidents ------------------------------------------------------------------------------------------------
    def create_incident(self, incident: Incident) -> bool:
        """Insert-if-absent; False when the row exists already (a retry finishing an earlier attempt)."""
        entity = {"PartitionKey": _INCIDENT_PARTITION, "RowKey": incident.id, **asdict(incident)}
        try:
            self.incidents.create_entity(entity)
        except ResourceExistsError:
            return False
        return True

    def get_incident(self, ident: str) -> Incident | None:
        try:
            entity = self.incidents.get_entity(_INCIDENT_PARTITION, ident)
        except ResourceNotFoundError:
            return None
        return _incident(entity)

    def list_incidents(self) -> list[Incident]:
        entities = self.incidents.query_entities("PartitionKey eq @p", parameters={"p": _INCIDENT_PARTITION})
        return sorted((_incident(entity) for entity in entities), key=lambda incident: incident.number)

    # --- timeline -------------------------------------------------------------------------------------------------
    def append_event(self, event: TimelineEvent) -> bool:
        """Append-only; an event id already present means this fact was recorded before (a redelivery)."""
        entity = {
            "PartitionKey": event.incident_id,
            "RowKey": event.event_id,
            **{name: value for name, value in asdict(event).items() if name not in ("incident_id", "event_id")},
            "data": json.dumps(event.data),
        }
        try:
            self.timeline_table.create_entity(entity)
        except ResourceExistsError:
            return False
        return True

    def timeline(self, ident: str) -> list[TimelineEvent]:
        entities = self.timeline_table.query_entities("PartitionKey eq @p", parameters={"p": ident})
        return [_event(entity) for entity in entities]  # RowKeys sort by time


def _counter_entity(value: int) -> dict[str, Any]:
    return {"PartitionKey": _COUNTER[0], "RowKey": _COUNTER[1], "value": value}


def _incident(entity: dict[str, Any]) -> Incident:
    return Incident(**{name: entity[name] for name in _INCIDENT_FIELDS if name in entity})


def _event(entity: dict[str, Any]) -> TimelineEvent:
    return TimelineEvent(
        incident_id=entity["PartitionKey"],
        event_id=entity["RowKey"],
        kind=entity["kind"],
        at=entity["at"],
        recorded_at=entity["recorded_at"],
        actor=entity["actor"],
        source=entity["source"],
        text=entity["text"],
        public=bool(entity.get("public", False)),
        data=json.loads(entity.get("data") or "{}"),
    )
