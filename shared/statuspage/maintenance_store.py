"""The `maintenances` table: scheduled maintenances, their id counter and the idempotency claims of declarations.

All three share one partition, so numbering a maintenance, creating it and claiming the caller's idempotency key
is one atomic transaction: a retried declaration finds its claim and the maintenance the first attempt created,
and no number is ever given twice. Changes are ETag-guarded; nothing here is last-write-wins, nothing is deleted.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.core.contention import attempts
from shared.core.entity_bounds import bounded_entity, one_transaction
from shared.core.errors import StorageUnavailable
from shared.core.storage import StorageAccount, lost_race
from shared.core.table_transaction import submit_transaction
from shared.statuspage.maintenance import Maintenance

MAINTENANCES = "maintenances"
_PARTITION = "maintenance"
_COUNTER = "counter"
_CLAIM_PREFIX = "claim-"
_IF_UNCHANGED = {"match_condition": MatchConditions.IfNotModified}


class MaintenanceChanged(Exception):
    """The maintenance changed since it was read: read it again and decide again."""


@dataclass(frozen=True)
class StoredMaintenance:
    maintenance: Maintenance
    etag: str


@dataclass(frozen=True)
class Scheduled:
    maintenance: Maintenance
    created: bool  # False: the idempotency key had been used, this is what the first attempt created


class MaintenanceStore:
    def __init__(self, account: StorageAccount) -> None:
        self._account = account
        self._lock = threading.Lock()
        self._counter: tuple[int, str] | None = None  # last seen (value, etag): a cheap first guess

    @property
    def table(self) -> TableClient:
        return self._account.table(MAINTENANCES)

    def schedule(self, build: Callable[[int], Maintenance], idempotency_key: str | None = None) -> Scheduled:
        """Number and create a maintenance in ONE transaction with the counter's ETag-guarded increment and the
        claim of `idempotency_key`; when the key was claimed before, the maintenance it names is returned."""
        with self._lock:
            for _ in attempts():
                if self._counter is None:
                    self._counter = self._read_counter()
                value, etag = self._counter
                maintenance = build(value + 1)
                counter = {"PartitionKey": _PARTITION, "RowKey": _COUNTER, "value": value + 1}
                operations: list[Any] = [
                    ("update", counter, {"mode": UpdateMode.REPLACE, "etag": etag, **_IF_UNCHANGED})
                    if etag
                    else ("create", counter),
                    ("create", _entity(maintenance)),
                ]
                if idempotency_key is not None:
                    operations.append(("create", _claim(idempotency_key, maintenance.id)))
                try:
                    results = submit_transaction(self.table, one_transaction(operations))
                except TableTransactionError as failure:
                    if not lost_race(failure):
                        raise
                    if failure.index == 2:
                        return Scheduled(self._claimed(idempotency_key), created=False)
                    if failure.index == 1:
                        self._counter = (value + 1, etag)  # the number is taken already: skip it
                    else:
                        self._counter = None  # the counter moved: read it again and retry
                    continue
                self._counter = (value + 1, results[0]["etag"])
                return Scheduled(maintenance, created=True)
            raise StorageUnavailable("maintenance numbers kept changing under this request; retry")

    def _read_counter(self) -> tuple[int, str]:
        try:
            entity = self.table.get_entity(_PARTITION, _COUNTER)
        except ResourceNotFoundError:
            return 0, ""
        return int(entity["value"]), entity.metadata["etag"]

    def _claimed(self, idempotency_key: str | None) -> Maintenance:
        assert idempotency_key is not None
        claim = self.table.get_entity(_PARTITION, _claim_row(idempotency_key))
        found = self.get(claim["maintenance"])
        assert found is not None, "a claim is created in the same transaction as its maintenance"
        return found

    def load(self, ident: str) -> StoredMaintenance | None:
        try:
            entity = self.table.get_entity(_PARTITION, ident)
        except ResourceNotFoundError:
            return None
        return StoredMaintenance(_maintenance(entity), entity.metadata["etag"])

    def get(self, ident: str) -> Maintenance | None:
        stored = self.load(ident)
        return stored.maintenance if stored else None

    def save(self, maintenance: Maintenance, etag: str) -> None:
        """Replace the maintenance if nobody changed it since it was read (MaintenanceChanged otherwise)."""
        try:
            self.table.update_entity(_entity(maintenance), mode=UpdateMode.REPLACE, etag=etag, **_IF_UNCHANGED)
        except (ResourceModifiedError, ResourceNotFoundError):
            raise MaintenanceChanged(maintenance.id) from None

    def list_maintenances(self, changed_since: datetime | None = None) -> list[Maintenance]:
        """Every maintenance, cancelled and completed ones included, in the order they were declared; only those
        declared or changed at or after `changed_since` (by their writer's clock) when given."""
        query = "PartitionKey eq @p and RowKey ge 'MNT-' and RowKey lt 'MNT.'"
        parameters: dict[str, Any] = {"p": _PARTITION}
        if changed_since is not None:
            query += " and updated_at ge @since"
            parameters["since"] = changed_since
        entities = self.table.query_entities(query, parameters=parameters)
        return sorted((_maintenance(entity) for entity in entities), key=lambda m: int(m.id.partition("-")[2]))


def _claim_row(idempotency_key: str) -> str:
    # Keys are caller text: hashed, they fit a RowKey whatever characters they hold.
    return _CLAIM_PREFIX + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def _claim(idempotency_key: str, ident: str) -> dict[str, Any]:
    return {"PartitionKey": _PARTITION, "RowKey": _claim_row(idempotency_key), "maintenance": ident}


def _entity(maintenance: Maintenance) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": _PARTITION, "RowKey": maintenance.id}
    for name, value in asdict(maintenance).items():
        if name in ("id", "components") or value is None:
            continue  # Tables has no null: an absent property reads back as the field's default
        entity[name] = value
    return bounded_entity(entity, {"components": list(maintenance.components)})


def _maintenance(entity: dict[str, Any]) -> Maintenance:
    return Maintenance(
        id=entity["RowKey"],
        name=entity["name"],
        components=tuple(json.loads(entity["components"])),
        scheduled_for=entity["scheduled_for"],
        scheduled_until=entity["scheduled_until"],
        created_at=entity["created_at"],
        updated_at=entity["updated_at"],
        description=entity.get("description", ""),
        cancelled_at=entity["cancelled_at"] if entity.get("cancelled_at") else None,
        version=int(entity.get("version", 1)),
    )
