"""The incident store on Azure Tables: `incidents` (state, id counter, alert groups), `timeline`, `alerts`.

Writes are insert-if-absent or ETag-guarded; nothing here is last-write-wins. An incident and the pointer of the
alert group it collects live in one partition, so both change in one atomic transaction.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.core.contention import attempts
from shared.core.entity_bounds import bounded_entity, one_transaction
from shared.core.errors import StorageUnavailable
from shared.core.recent import Recent
from shared.core.storage import StorageAccount, lost_race
from shared.core.table_transaction import submit_transaction
from shared.core.timeutil import utc_now
from shared.incidents.detection import GroupPointer
from shared.incidents.incident import CLOSED_STATUSES, Incident
from shared.incidents.paging import PageDue
from shared.incidents.timeline import TimelineEvent, event_id
from shared.incidents.unsent import UnsentChange

INCIDENTS, TIMELINE, ALERTS = "incidents", "timeline", "alerts"
_INCIDENT_PARTITION = "incident"
# The id counter shares the incidents' partition, so numbering an incident can be part of its creating transaction.
_COUNTER = ("incident", "counter-incident-number")
_LEGACY_COUNTER = ("counter", "incident-number")  # where the first release kept it
_GROUP_PREFIX = "group-"
_CLAIM_PREFIX = "claim-"  # a declaration's idempotency key, claimed in the transaction that opens its incident
_PAGE_PREFIX = "page-"  # a page that is due (shared.incidents.paging): the incident partition's outbox
_UNSENT_PREFIX = "unsent-"  # a change whose announcement could not be queued (shared.incidents.unsent)
# The open incidents' index: a copy of each open incident's row under `open-INC-n`, written in every transaction that
# writes the incident, so one short range answers "what is open" whatever the history. Its first row, `open-`, says
# the index is complete (written with incident number 1, or by `python -m devhost.ops reindex` for incidents stored
# before the index); without it readers scan the incidents instead.
_OPEN_PREFIX = "open-"
_OPEN_COMPLETE = _OPEN_PREFIX
# Where incidents that are not open changed: a row `settled-<time>-INC-n` written in every transaction that leaves
# an incident not open (resolving, closing, a correction after), so a reader that holds the open incidents (the index)
# finds every other change since a moment in one short range, whatever the history (the status page publisher).
_SETTLED_PREFIX = "settled-"
# Alert rows are named by kind: an alert's key is whatever Azure Monitor (or anyone holding the function key) says,
# so unprefixed it could equal any other row's name. The first release kept alerts, and declaration claims marked
# _LEGACY_DECLARED, unprefixed in this table: alerts there are still read, claims never mistaken for alerts.
_ALERT_PREFIX = "alert-"
_LEGACY_DECLARED = "Declared"
FINISHED_FIRINGS_KEPT = 20_000  # ~3 MB: hours of a storm's distinct firings
_INCIDENT_FIELDS = {f.name: f for f in fields(Incident)}
# Tuples, stored as JSON arrays.
_LIST_FIELDS = {"components", "notified", "acknowledged_by", "roles", "component_overrides"}
_IF_UNCHANGED = {"match_condition": MatchConditions.IfNotModified}
_COUNTER_MOVED = (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError, TableTransactionError)


class GroupTaken(Exception):
    """Another incident took the alert group first (a concurrent alert of the same service)."""


class ClaimTaken(Exception):
    """Another request claimed the key first (a retried declaration): its incident is the answer."""


class IncidentChanged(Exception):
    """The incident changed since it was read: read it again and decide again."""


@dataclass(frozen=True)
class AlertRecord:
    key: str
    incident_id: str | None  # None: logged only (too mild), or resolved before its firing reached us
    condition: str
    etag: str = ""
    resolved_at: datetime | None = None  # when a resolution arrived before the alert's firing
    partition: str = ""  # where its row is: _ALERT_PREFIX + key, or the key itself for a first-release row


@dataclass(frozen=True)
class StoredIncident:
    incident: Incident
    etag: str


class IncidentStore:
    def __init__(self, account: StorageAccount, clock: Callable[[], datetime] = utc_now) -> None:
        self._account = account
        self._clock = clock  # stamps the settled rows: the writer's clock, as readers of them allow for
        self._counter_lock = threading.Lock()
        self._counter: tuple[int, str] | None = None  # last seen (value, etag): a cheap first guess
        # The incident of each alert firing whose delivery this process finished (its event appended, its effect
        # saved), by the event's id: a repeat of one is a duplicate of that incident (shared.incidents.alert_intake).
        self.finished_firings: Recent[str] = Recent(FINISHED_FIRINGS_KEPT)

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
                    elif value == 0:
                        # The first incident of a store that never had one: the open index is complete from the start.
                        operations = [("create", _counter_entity(value + 1)), ("upsert", _open_complete())]
                        meta = submit_transaction(self.incidents, operations)[0]
                    else:
                        meta = self.incidents.create_entity(_counter_entity(value + 1))
                except (
                    ResourceModifiedError,
                    ResourceExistsError,
                    ResourceNotFoundError,
                    TableTransactionError,
                ) as lost:
                    if isinstance(lost, TableTransactionError) and not lost_race(lost):
                        raise
                    self._counter = None  # someone else moved it: read again and retry
                    continue
                self._counter = (value + 1, meta["etag"])
                return value + 1

    def _read_counter(self) -> tuple[int, str]:
        """(value, etag); an empty etag means the row is to be created, continuing from the earlier layout's row."""
        try:
            entity = self.incidents.get_entity(*_COUNTER)
        except ResourceNotFoundError:
            try:
                return int(self.incidents.get_entity(*_LEGACY_COUNTER)["value"]), ""
            except ResourceNotFoundError:
                return 0, ""
        return int(entity["value"]), entity.metadata["etag"]

    # --- alerts ---------------------------------------------------------------------------------------------------
    def find_alert(self, key: str, *, first_release: bool = True) -> AlertRecord | None:
        """The alert's row; with `first_release`, also one the first release kept under the bare key (one more read
        when the alert is new, so a firing passes it: see shared.incidents.alert_intake.receive_alert)."""
        for partition in (_ALERT_PREFIX + key, key) if first_release else (_ALERT_PREFIX + key,):
            try:
                entity = self.alerts.get_entity(partition, "alert")
            except ResourceNotFoundError:
                continue
            if partition == key and entity.get("condition") == _LEGACY_DECLARED:
                return None  # a first-release declaration claim under the same name: not this alert's row
            return AlertRecord(
                key=key,
                incident_id=entity.get("incident") or None,
                condition=entity["condition"],
                etag=entity.metadata["etag"],
                resolved_at=entity.get("resolved_at"),
                partition=partition,
            )
        return None

    def claim_alert(
        self,
        key: str,
        incident_id: str | None,
        condition: str,
        detail: dict[str, Any],
        resolved_at: datetime | None = None,
    ) -> bool:
        """Insert-if-absent: True when this caller bound the alert to `incident_id`, False when another did first.

        The row is also the alert log: what the alert said, and why it was only logged when it opened nothing.
        """
        entity = {
            "PartitionKey": _ALERT_PREFIX + key,
            "RowKey": "alert",
            "incident": incident_id or "",
            "condition": condition,
            **({"resolved_at": resolved_at} if resolved_at else {}),
        }
        entity = bounded_entity(entity, {"detail": detail})  # detail: what the alert said, cut to fit
        try:
            self.alerts.create_entity(entity)
        except ResourceExistsError:
            return False
        return True

    def bind_alert(self, record: AlertRecord, incident_id: str | None, condition: str) -> bool:
        """Bind an alert nobody has bound yet (its resolution came first) — only if the row is still as read."""
        partition = record.partition or _ALERT_PREFIX + record.key
        entity = {"PartitionKey": partition, "RowKey": "alert", "incident": incident_id or "", "condition": condition}
        try:
            self.alerts.update_entity(entity, UpdateMode.MERGE, etag=record.etag, **_IF_UNCHANGED)
        except ResourceModifiedError:
            return False
        return True

    def rebind_alert(self, key: str, incident_id: str) -> None:
        """Point an alert this caller claimed at another incident (it lost the race for the alert group)."""
        self._merge_alert(key, {"incident": incident_id})

    def mark_alert(self, key: str, condition: str) -> None:
        self._merge_alert(key, {"condition": condition})

    def _merge_alert(self, key: str, values: dict[str, Any]) -> None:
        """Merge into the alert's row: named by kind, else (a first-release alert) by its bare key."""
        try:
            self.alerts.update_entity(
                {"PartitionKey": _ALERT_PREFIX + key, "RowKey": "alert", **values}, UpdateMode.MERGE
            )
        except ResourceNotFoundError:
            if self.find_alert(key) is None:
                raise
            self.alerts.update_entity({"PartitionKey": key, "RowKey": "alert", **values}, UpdateMode.MERGE)

    # --- alert groups -----------------------------------------------------------------------------------------------
    def find_group(self, key: str) -> tuple[GroupPointer, str] | None:
        """The open incident collecting this group's alerts, with the pointer's ETag."""
        try:
            entity = self.incidents.get_entity(_INCIDENT_PARTITION, _GROUP_PREFIX + key)
        except ResourceNotFoundError:
            return None
        return GroupPointer(key, entity["incident"], entity["detected_at"]), entity.metadata["etag"]

    # --- incidents ------------------------------------------------------------------------------------------------
    def open_incident(
        self, incident: Incident, replaces_group_etag: str | None = None, page: PageDue | None = None
    ) -> bool:
        """Create the incident, its page and, when it collects an alert group, point the group at it — atomically.

        False when the incident exists already (a retry finishing an earlier attempt). Raises GroupTaken when
        another incident took the group since it was read (`replaces_group_etag`: the stale pointer we read).
        """
        try:
            submit_transaction(self.incidents, one_transaction(self._opening(incident, replaces_group_etag, page)))
        except TableTransactionError as failure:
            if failure.index == 0 and failure.error_code == "EntityAlreadyExists":
                return False
            if failure.index == 1:
                raise GroupTaken(incident.group) from None
            raise
        return True

    def open_numbered(
        self,
        build: Callable[[int], Incident],
        replaces_group_etag: str | None = None,
        page: Callable[[Incident], PageDue] | None = None,
        claim: str | None = None,
    ) -> Incident:
        """Number, create and point the group at a new incident in ONE transaction: the counter's increment (ETag),
        the incident and its group pointer, and the claim of `claim` (a declaration's key) when given. Saves the
        separate counter write; retried when the counter moved. No failure spends a number.

        Raises GroupTaken when another incident took the group since it was read, ClaimTaken when the key was
        claimed before.
        """
        with self._counter_lock:
            for _ in attempts():
                if self._counter is None:
                    self._counter = self._read_counter()
                value, etag = self._counter
                incident = build(value + 1)
                counter = (
                    ("update", _counter_entity(value + 1), {"mode": UpdateMode.REPLACE, "etag": etag, **_IF_UNCHANGED})
                    if etag
                    else ("create", _counter_entity(value + 1))
                )
                operations = [counter, *self._opening(incident, replaces_group_etag, page(incident) if page else None)]
                if value == 0 and not etag:
                    # The first incident of a store that never had one: the index is complete from the start.
                    operations.append(("upsert", _open_complete()))
                if claim is not None:
                    operations.append(("create", _claim_entity(claim, incident.id)))
                try:
                    results = submit_transaction(self.incidents, one_transaction(operations))
                except TableTransactionError as failure:
                    if not lost_race(failure):
                        raise
                    if claim is not None and failure.index == len(operations) - 1:
                        raise ClaimTaken(claim) from None
                    if failure.index == 2:
                        raise GroupTaken(incident.group) from None
                    if failure.index == 1:
                        self._counter = (value + 1, etag)  # the number is taken already: skip it, same counter
                    else:
                        self._counter = None  # the counter moved: read it again and retry
                    continue
                self._counter = (value + 1, results[0]["etag"])
                return incident
            raise StorageUnavailable("incident numbers kept changing under this request; retry")

    def _opening(self, incident: Incident, replaces_group_etag: str | None, page: PageDue | None) -> list[Any]:
        """The operations that create an incident and, when it collects an alert group, point the group at it; its
        page last, so a failing operation's index still tells which of the others failed."""
        operations: list[Any] = [("create", _incident_entity(incident))]
        if incident.group is not None:
            pointer = {
                "PartitionKey": _INCIDENT_PARTITION,
                "RowKey": _GROUP_PREFIX + incident.group,
                "incident": incident.id,
                "detected_at": incident.detected_at,
            }
            if replaces_group_etag is None:
                operations.append(("create", pointer))
            else:
                condition = {"mode": UpdateMode.REPLACE, "etag": replaces_group_etag, **_IF_UNCHANGED}
                operations.append(("update", pointer, condition))
        if incident.is_open:
            operations.append(("upsert", _open_entity(incident)))
        else:
            operations.append(("upsert", _settled_entity(incident, self._clock())))
        if page is not None:
            operations.append(("upsert", _page_entity(page)))
        return operations

    def claimed(self, key: str) -> str | None:
        """The incident a declaration's key was claimed for: beside the incidents (one transaction with its
        incident), or, for claims of the first release, in the alerts table — marked as a declaration's claim, so
        an alert named like the key is never taken for it."""
        try:
            return self.incidents.get_entity(_INCIDENT_PARTITION, _CLAIM_PREFIX + key)["incident"]
        except ResourceNotFoundError:
            pass
        try:
            legacy = self.alerts.get_entity(key, "alert")
        except ResourceNotFoundError:
            return None
        return (legacy.get("incident") or None) if legacy.get("condition") == _LEGACY_DECLARED else None

    def get_incident(self, ident: str) -> Incident | None:
        stored = self.load_incident(ident)
        return stored.incident if stored else None

    def load_incident(self, ident: str) -> StoredIncident | None:
        try:
            entity = self.incidents.get_entity(_INCIDENT_PARTITION, ident)
        except ResourceNotFoundError:
            return None
        return StoredIncident(_incident(entity), entity.metadata["etag"])

    def save_incident(self, incident: Incident, etag: str, *, was_open: bool, pages: Iterable[PageDue] = ()) -> None:
        """Replace the incident if nobody changed it since it was read (IncidentChanged otherwise).

        A closing incident stops collecting alerts: its group pointer goes in the same transaction, so the next
        alert of the group opens a new incident; a reopening one takes its group back. `was_open` (the state read
        before) spares the pointer read when neither happens. `pages` the change makes due are recorded with it.
        """
        condition = {"mode": UpdateMode.REPLACE, "etag": etag, **_IF_UNCHANGED}
        operations: list[Any] = [("update", _incident_entity(incident), condition)]
        if incident.group is not None and incident.is_open != was_open:
            operations += self._group_follows(incident)
        operations += [("upsert", _page_entity(page)) for page in pages]
        # The open index follows in the same transaction: a copy while open, gone once closed.
        unlisted = ("delete", _open_key(incident.id)) if was_open and not incident.is_open else None
        if incident.is_open:
            operations.append(("upsert", _open_entity(incident)))
        else:
            operations.append(("upsert", _settled_entity(incident, self._clock())))
            if unlisted is not None:
                operations.append(unlisted)  # last: a failure there is told apart below
        try:
            submit_transaction(self.incidents, one_transaction(operations))
        except TableTransactionError as failure:
            at = failure.index if failure.index is not None else -1
            if unlisted is None or operations[at] is not unlisted or failure.error_code != "ResourceNotFound":
                raise IncidentChanged(incident.id) from None
            # Opened before the index existed (not yet reindexed): nothing to take out of it.
            try:
                submit_transaction(self.incidents, one_transaction(operations[:-1]))
            except TableTransactionError:
                raise IncidentChanged(incident.id) from None

    def record_link(self, ident: str, now: datetime, what: str, **link: object) -> Incident:
        """Link the incident to its `what` (its Teams channel, its work item: the id and URL fields in `link`) unless
        it is linked already: the first link recorded stands (a racing or earlier delivery's). ETag-guarded, decided
        again on a conflict; returns the incident as stored."""
        for _ in attempts():
            stored = self.load_incident(ident)
            if stored is None:
                raise StorageUnavailable(f"{ident} vanished while its {what} was recorded")
            if any(getattr(stored.incident, name) is not None for name in link):
                return stored.incident
            linked = stored.incident.changed(now, **link)
            try:
                self.save_incident(linked, stored.etag, was_open=stored.incident.is_open)
            except IncidentChanged:
                continue
            return linked
        raise StorageUnavailable(f"{ident} kept changing; its {what} is recorded on the next delivery")

    def _group_follows(self, incident: Incident) -> list[Any]:
        """Keep the group pointer in step: a closed incident releases its group, a reopened one takes it back
        when it is free (a conflict fails the transaction, and the caller decides again)."""
        assert incident.group is not None
        found = self.find_group(incident.group)
        row = {"PartitionKey": _INCIDENT_PARTITION, "RowKey": _GROUP_PREFIX + incident.group}
        if not incident.is_open and found is not None and found[0].incident_id == incident.id:
            return [("delete", row, {"etag": found[1], **_IF_UNCHANGED})]
        if incident.is_open and found is None:
            return [("create", {**row, "incident": incident.id, "detected_at": incident.detected_at})]
        return []

    # --- pages that are due ---------------------------------------------------------------------------------------
    def pages_due(self, ident: str | None = None) -> list[PageDue]:
        """The pages not yet under way: one incident's, or every incident's (a range of one partition, kept short
        because a page leaves it once its escalation has started)."""
        return [_page(entity) for entity in self._prefixed(_PAGE_PREFIX + (f"{ident}-" if ident else ""))]

    def page_started(self, page: PageDue) -> None:
        """The page's escalation is under way (its first step settled): it leaves the outbox."""
        with contextlib.suppress(ResourceNotFoundError):
            self.incidents.delete_entity(_INCIDENT_PARTITION, _PAGE_PREFIX + page.key)

    # --- changes whose announcement could not be queued ----------------------------------------------------------
    def record_unsent(self, change: UnsentChange) -> None:
        self.incidents.upsert_entity(
            {
                "PartitionKey": _INCIDENT_PARTITION,
                "RowKey": _UNSENT_PREFIX + change.key,
                "incident": change.incident_id,
                "queue": change.queue,
                "message": change.message,
                "written_at": change.written_at,
            }
        )

    def unsent_changes(self) -> list[UnsentChange]:
        """Every change still to be announced: a range of one partition, empty unless a queue put failed."""
        return [
            UnsentChange(row["incident"], row["queue"], row["message"], row["written_at"])
            for row in self._prefixed(_UNSENT_PREFIX)
        ]

    def change_sent(self, change: UnsentChange) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self.incidents.delete_entity(_INCIDENT_PARTITION, _UNSENT_PREFIX + change.key)

    def _prefixed(self, prefix: str) -> Iterator[dict[str, Any]]:
        """The rows of the incidents partition whose names start with `prefix`."""
        query = "PartitionKey eq @p and RowKey ge @lo and RowKey lt @hi"
        parameters = {"p": _INCIDENT_PARTITION, "lo": prefix, "hi": prefix[:-1] + chr(ord(prefix[-1]) + 1)}
        return iter(self.incidents.query_entities(query, parameters=parameters))

    def list_incidents(self, statuses: tuple[str, ...] | None = None) -> list[Incident]:
        """Every incident (or those in `statuses`), oldest first. Only open statuses: from the open index (one short
        range, whatever the history), else a scan of every incident."""
        if statuses is not None and statuses and not set(statuses) & set(CLOSED_STATUSES):
            indexed = self.open_incidents()
            if indexed is not None:
                return [incident for incident in indexed if incident.status in statuses]
        return sorted(self.each_incident(statuses), key=lambda incident: incident.number)

    def open_incidents(self) -> list[Incident] | None:
        """The open incidents, oldest first, from the open index: one range of the incidents partition, as long as
        the number open. None when the index is not complete yet (incidents stored before it, not yet reindexed)."""
        rows = self._prefixed(_OPEN_PREFIX)
        if next(rows, {}).get("RowKey") != _OPEN_COMPLETE:  # the mark sorts first
            return None
        return sorted((_incident(entity) for entity in rows), key=lambda incident: incident.number)

    def settled_since(self, moment: datetime) -> list[str]:
        """The incidents left not open by a change written at or after `moment` (by the writer's clock), each once: one
        range of the incidents partition, as long as the changes since."""
        query = "PartitionKey eq @p and RowKey ge @lo and RowKey lt @hi"
        lo = _SETTLED_PREFIX + _stamp(moment)
        parameters = {"p": _INCIDENT_PARTITION, "lo": lo, "hi": _SETTLED_PREFIX[:-1] + "."}
        rows = self.incidents.query_entities(query, parameters=parameters, select=["incident"])
        return list(dict.fromkeys(row["incident"] for row in rows))

    def forget_settled(self, before: datetime) -> int:
        """Delete the settled rows written before `before` (nobody looks that far back any more); returns how many.
        Transactions of 100 rows of the one partition."""
        query = "PartitionKey eq @p and RowKey ge @lo and RowKey lt @hi"
        parameters = {"p": _INCIDENT_PARTITION, "lo": _SETTLED_PREFIX, "hi": _SETTLED_PREFIX + _stamp(before)}
        rows = [row["RowKey"] for row in self.incidents.query_entities(query, parameters=parameters, select=["RowKey"])]
        for start in range(0, len(rows), 100):
            batch = rows[start : start + 100]
            try:
                submit_transaction(self.incidents, [("delete", _settled_key(key)) for key in batch])
            except TableTransactionError:  # another forgetter took some first: the rest one by one
                for key in batch:
                    with contextlib.suppress(ResourceNotFoundError):
                        self.incidents.delete_entity(_INCIDENT_PARTITION, key)
        return len(rows)

    def reindex_open(self) -> tuple[int, int]:
        """Build the open index for incidents stored before it (idempotent; safe beside running writers): each open
        incident's copy is written in a transaction with its row unchanged (ETag), so a copy is never older than the
        row; a copy whose incident is closed or gone is removed the same way. Then the index is marked complete.
        Returns (copies written, copies removed)."""
        written = removed = 0
        for entity in self._incident_rows():
            if _incident(entity).is_open:
                written += self._reindexed(entity["RowKey"])
        query = "PartitionKey eq @p and RowKey gt @lo and RowKey lt @hi"
        parameters = {"p": _INCIDENT_PARTITION, "lo": _OPEN_PREFIX, "hi": _OPEN_PREFIX[:-1] + "."}
        for entity in list(self.incidents.query_entities(query, parameters=parameters, select=["RowKey"])):
            removed += self._reindexed(entity["RowKey"][len(_OPEN_PREFIX) :], removing=True)
        self.incidents.upsert_entity(_open_complete())
        return written, removed

    def _reindexed(self, ident: str, *, removing: bool = False) -> int:
        """Make one incident's copy agree with its row, the row's ETag guarding the pair; 1 when a copy was written
        (or, `removing`, deleted)."""
        for _ in attempts():
            stored = self.load_incident(ident)
            if stored is not None and stored.incident.is_open:
                if removing:
                    return 0  # open: its copy stays (written by its writer, or by the first pass)
                change: tuple[Any, ...] = ("upsert", _open_entity(stored.incident))
            else:
                change = ("delete", _open_key(ident))
            if stored is None:
                with contextlib.suppress(ResourceNotFoundError):
                    self.incidents.delete_entity(_INCIDENT_PARTITION, _OPEN_PREFIX + ident)
                    return 1
                return 0
            unchanged = {"mode": UpdateMode.MERGE, "etag": stored.etag, **_IF_UNCHANGED}
            guard = ("update", {"PartitionKey": _INCIDENT_PARTITION, "RowKey": ident}, unchanged)
            try:
                submit_transaction(self.incidents, [guard, change])
            except TableTransactionError as failure:
                if failure.index == 1 and failure.error_code == "ResourceNotFound":
                    return 0  # closed and not indexed: nothing to remove
                continue  # the incident changed meanwhile: its writer kept the index; decide again on what it is
            return 1
        raise StorageUnavailable(f"{ident} kept changing while it was reindexed; run reindex again")

    def _incident_rows(self) -> Iterator[dict[str, Any]]:
        query = "PartitionKey eq @p and RowKey ge 'INC-' and RowKey lt 'INC.'"
        yield from self.incidents.query_entities(query, parameters={"p": _INCIDENT_PARTITION})

    def each_incident(
        self, statuses: tuple[str, ...] | None = None, declared_since: datetime | None = None
    ) -> Iterator[Incident]:
        """Every incident (or those in `statuses`, declared at or after `declared_since`), read a page at a time in
        the table's order — ids as text: INC-1, INC-10, INC-2 — so a tool can stream any number of them."""
        query = "PartitionKey eq @p and RowKey ge 'INC-' and RowKey lt 'INC.'"
        parameters: dict[str, Any] = {"p": _INCIDENT_PARTITION}
        if statuses is not None:
            if not statuses:
                return
            # Spaces around every @name: the SDK finds parameters by splitting the filter on spaces.
            query += " and ( " + " or ".join(f"status eq @s{index}" for index in range(len(statuses))) + " )"
            parameters.update({f"s{index}": status for index, status in enumerate(statuses)})
        if declared_since is not None:
            query += " and declared_at ge @since"
            parameters["since"] = declared_since
        for entity in self.incidents.query_entities(query, parameters=parameters):
            yield _incident(entity)

    # --- timeline -------------------------------------------------------------------------------------------------
    def append_event(self, event: TimelineEvent) -> bool:
        """Append-only; an event id already present means this fact was recorded before (a redelivery)."""
        try:
            self.timeline_table.create_entity(_event_entity(event))
        except ResourceExistsError:
            return False
        return True

    def recorded_first(
        self, events: Iterable[TimelineEvent], lost: Iterable[TimelineEvent] = ()
    ) -> list[TimelineEvent]:
        """Events before the state they explain: append the change's events, and take back those an attempt that
        lost its race wrote (`lost`) which the change decided now does not repeat — they told of a change that did
        not happen. Returns the events written by this caller (for the next attempt, should this one lose too)."""
        wanted = {event.event_id: event for event in events}
        self.take_back([event for event in lost if event.event_id not in wanted])
        ours = {event.event_id: wanted[event.event_id] for event in lost if event.event_id in wanted}
        for event in ours.values():
            # Written again as decided now: this also undoes (or, by changing its ETag, forestalls) its taking back
            # by the change that won the race, which saw it as the event of a change never saved.
            self.timeline_table.upsert_entity(_event_entity(event), mode=UpdateMode.REPLACE)
        added = [event for ident, event in wanted.items() if ident not in ours and self.append_event(event)]
        return [*ours.values(), *added]

    def take_back(self, events: Iterable[TimelineEvent]) -> None:
        """Remove events this caller appended for a change or a delivery that did not complete."""
        for event in events:
            with contextlib.suppress(ResourceNotFoundError):
                self.timeline_table.delete_entity(event.incident_id, event.event_id)

    def timeline(self, ident: str) -> list[TimelineEvent]:
        entities = self.timeline_table.query_entities("PartitionKey eq @p", parameters={"p": ident})
        return [_event(entity) for entity in entities]  # RowKeys sort by time

    def events(self, ident: str, event_ids: Iterable[str]) -> list[TimelineEvent]:
        """The named events of an incident that exist, by point reads: a long timeline is not read for a few."""
        found = []
        for wanted in dict.fromkeys(event_ids):
            try:
                found.append(_event(self.timeline_table.get_entity(ident, wanted)))
            except ResourceNotFoundError:
                continue
        return found

    def events_since(self, ident: str, at: datetime) -> list[tuple[TimelineEvent, str]]:
        """The incident's events named at or after `at`, with their ETags (a range of its partition: RowKeys begin
        with their time)."""
        query = "PartitionKey eq @p and RowKey ge @lo"
        entities = self.timeline_table.query_entities(query, parameters={"p": ident, "lo": event_id(at, "")})
        return [(_event(entity), entity.metadata["etag"]) for entity in entities]

    def take_back_unchanged(self, events: Iterable[tuple[TimelineEvent, str]]) -> None:
        """Remove events as they were read (ETag): one rewritten since by its writer stays."""
        for event, etag in events:
            with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
                self.timeline_table.delete_entity(event.incident_id, event.event_id, etag=etag, **_IF_UNCHANGED)

    def first_event(self, ident: str) -> TimelineEvent | None:
        """The incident's earliest event, from the first row of its partition (one small read)."""
        pages = self.timeline_table.query_entities("PartitionKey eq @p", parameters={"p": ident}, results_per_page=1)
        first = next(iter(pages.by_page()), [])
        return next((_event(entity) for entity in first), None)


def _event_entity(event: TimelineEvent) -> dict[str, Any]:
    entity = {
        "PartitionKey": event.incident_id,
        "RowKey": event.event_id,
        **{name: value for name, value in asdict(event).items() if name not in ("incident_id", "event_id", "data")},
    }
    return bounded_entity(entity, {"data": event.data})  # text from outside, cut to fit one entity


def _claim_entity(key: str, incident_id: str) -> dict[str, Any]:
    return {"PartitionKey": _INCIDENT_PARTITION, "RowKey": _CLAIM_PREFIX + key, "incident": incident_id}


def _page_entity(page: PageDue) -> dict[str, Any]:
    return {
        "PartitionKey": _INCIDENT_PARTITION,
        "RowKey": _PAGE_PREFIX + page.key,
        "incident": page.incident_id,
        "series": page.series,
        "due": page.due,
        "written_at": page.written_at,
    }


def _open_key(ident: str) -> dict[str, Any]:
    return {"PartitionKey": _INCIDENT_PARTITION, "RowKey": _OPEN_PREFIX + ident}


def _open_entity(incident: Incident) -> dict[str, Any]:
    return {**_incident_entity(incident), "RowKey": _OPEN_PREFIX + incident.id}


def _settled_entity(incident: Incident, now: datetime) -> dict[str, Any]:
    # The writer's clock: readers look back a margin wider than clocks differ and writes take (see the publisher).
    stamp = _stamp(now)
    return {
        "PartitionKey": _INCIDENT_PARTITION,
        "RowKey": f"{_SETTLED_PREFIX}{stamp}-{incident.id}",
        "incident": incident.id,
    }


def _settled_key(row_key: str) -> dict[str, Any]:
    return {"PartitionKey": _INCIDENT_PARTITION, "RowKey": row_key}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")  # fixed width: sorts as time does


def _open_complete() -> dict[str, Any]:
    return {"PartitionKey": _INCIDENT_PARTITION, "RowKey": _OPEN_COMPLETE, "complete": True}


def _page(entity: dict[str, Any]) -> PageDue:
    return PageDue(entity["incident"], entity["series"], entity["due"], entity["written_at"])


def _counter_entity(value: int) -> dict[str, Any]:
    return {"PartitionKey": _COUNTER[0], "RowKey": _COUNTER[1], "value": value}


def _incident_entity(incident: Incident) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": _INCIDENT_PARTITION, "RowKey": incident.id}
    lists: dict[str, Any] = {}
    for name, value in asdict(incident).items():
        if value is None:
            continue  # Tables has no null: an absent property reads back as the field's default
        if name in _LIST_FIELDS:
            lists[name] = list(value)
        else:
            entity[name] = value
    return bounded_entity(entity, lists)  # titles, descriptions and updates come from outside: cut to fit


def _incident(entity: dict[str, Any]) -> Incident:
    # Rows written by the first release have one `component` and no source detail.
    values: dict[str, Any] = {"components": (entity["component"],)} if "component" in entity else {}
    values.setdefault("source_detail", "")
    for name in _INCIDENT_FIELDS:
        if name not in entity:
            continue
        value = entity[name]
        values[name] = _tuple(json.loads(value)) if name in _LIST_FIELDS else value
    return Incident(**values)


def _tuple(items: list[Any]) -> tuple[Any, ...]:
    # JSON has only lists: pairs such as (role, person) come back as lists and become tuples again.
    return tuple(_tuple(item) if isinstance(item, list) else item for item in items)


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
