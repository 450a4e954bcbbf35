"""On-call overrides on Azure Tables: the `overrides` table, one partition per roster, one row per override.

Rows are insert-if-absent under the override's deterministic id, so a retried write stores it once. Reads ask the
table for only the overrides that overlap the range wanted (a filter on start and end), never a whole roster.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient

from shared.core.entity_bounds import bounded_entity
from shared.core.storage import StorageAccount
from shared.oncall.override import Override, newest_first
from shared.oncall.people import Directory, Person

OVERRIDES = "overrides"
_OVERLAPPING = "PartitionKey eq @roster and end_at gt @start and start_at lt @end"


class OverrideStore:
    def __init__(self, account: StorageAccount, directory: Directory) -> None:
        self._account = account
        self._directory = directory  # today's name, email and Teams ids for the person a row names

    @property
    def table(self) -> TableClient:
        return self._account.table(OVERRIDES)

    def add(self, override: Override) -> Override:
        """Store the override; when a row with its id exists already (a retry), that row is the answer."""
        try:
            self.table.create_entity(_entity(override))
        except ResourceExistsError:
            return self._from_entity(self.table.get_entity(override.roster, override.id))
        return override

    def overlapping(self, roster: str, start: datetime, end: datetime) -> list[Override]:
        """The roster's overrides (every layer) that overlap [start, end), newest first."""
        rows = self.table.query_entities(_OVERLAPPING, parameters={"roster": roster, "start": start, "end": end})
        return newest_first(self._from_entity(row) for row in rows)

    def _from_entity(self, row: dict[str, Any]) -> Override:
        person = self._directory.named(row["person"])
        if person not in self._directory.people:  # removed from people.toml since: what the row remembers
            person = Person(name=row["person"], email=row.get("email") or None, time_zone=row.get("time_zone", "UTC"))
        return Override(
            roster=row["PartitionKey"],
            layer=row["layer"],
            person=person,
            start=_utc(row["start_at"]),
            end=_utc(row["end_at"]),
            created_at=_utc(row["created_at"]),
            id=row["RowKey"],
            created_by=row.get("created_by") or None,
        )


def _entity(override: Override) -> dict[str, Any]:
    return bounded_entity(
        {
            "PartitionKey": override.roster,
            "RowKey": override.id,
            "layer": override.layer,
            "person": override.person.name,
            "email": override.person.email or "",
            "time_zone": override.person.time_zone,
            "start_at": override.start,
            "end_at": override.end,
            "created_at": override.created_at,
            "created_by": override.created_by or "",
        }
    )


def _utc(moment: datetime) -> datetime:
    """The SDK returns its own aware datetime subclass; plain UTC datetimes compare and hash like ours."""
    moment = moment.astimezone(UTC)
    return datetime(*moment.timetuple()[:6], moment.microsecond, tzinfo=UTC)
