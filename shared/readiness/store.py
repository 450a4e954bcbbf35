"""The `readiness` table: one summary row per resolved incident, and per month a digest of those rows — both in the
partition of the month the incident was declared. A query for a time range reads only the digests of its months
(shared.readiness.digest), never a timeline and never row by row; a warm instance keeps each month decoded and
tallied (shared.readiness.tally) for as long as its digest's ETag stays the same.

An incident's row and its month's digest change together, in one table transaction. Writes are guarded by the
basis a summary was computed from (the incident's version and timeline length, see shared.readiness.summary): a row
is replaced only by a summary of a newer basis and removed only by a reopening newer than it, each under the ETags
of the row and the digest — so two deliveries racing with different views never leave the older.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.core.contention import attempts
from shared.core.errors import StorageUnavailable
from shared.core.once import one_per_key
from shared.core.storage import StorageAccount, lost_race
from shared.core.table_transaction import submit_transaction
from shared.core.timeutil import parse_instant
from shared.readiness import digest
from shared.readiness.summary import IncidentSummary, PageTally
from shared.readiness.tally import Tally, tally
from shared.readiness.window import Window

READINESS = "readiness"
DIGEST = "digest"  # the RowKey of a month's digest; incident rows are named by the incident ("INC-7")
_IF_UNCHANGED = {"match_condition": MatchConditions.IfNotModified}
_READERS = 8  # digests read at once


@one_per_key
def _readers() -> ThreadPoolExecutor:
    """One pool for the process, whatever the stores: starting eight threads for every query costs more than a warm
    query's work, and a pool per store would leave idle threads behind every store a test or benchmark drops."""
    return ThreadPoolExecutor(_READERS, thread_name_prefix="readiness-digest")


class ReadinessStore:
    def __init__(self, account: StorageAccount) -> None:
        self._account = account
        # Decoded digests by month, with the ETag they were decoded from: only a cache — every query reads each
        # month's row, and a changed ETag (another instance wrote) means decoding again.
        self._decoded: dict[str, _Month] = {}
        self._lock = threading.Lock()

    @property
    def table(self) -> TableClient:
        return self._account.table(READINESS)

    def save(self, summary: IncidentSummary) -> bool:
        """Write the incident's row and its place in the month's digest, unless a row of the same or a newer basis
        is there; True when written."""
        month, ident = summary.month, summary.incident_id
        for _ in attempts():
            found = self._row(month, ident)
            if found is not None and _basis(found) >= summary.basis:
                return False
            entries, digest_etag = self._digest(month)
            entries[ident] = digest.entry(summary)
            row = summary_row(summary)
            operation = ("create", row) if found is None else ("update", row, _replacing(found.metadata["etag"]))
            if self._commit([operation, _digest_operation(month, entries, digest_etag)]):
                return True
        raise StorageUnavailable(f"the readiness row of {ident} kept changing; retry later")

    def remove(self, incident_id: str, declared_at: datetime, version: int) -> bool:
        """Take out the row (and digest entry) of an incident reopened at `version`, unless a later resolution
        wrote it."""
        month = declared_at.strftime("%Y-%m")
        for _ in attempts():
            found = self._row(month, incident_id)
            if found is None or _basis(found)[0] > version:
                return False
            entries, digest_etag = self._digest(month)
            entries.pop(incident_id, None)
            delete = (
                "delete",
                {"PartitionKey": month, "RowKey": incident_id},
                {"etag": found.metadata["etag"], **_IF_UNCHANGED},
            )
            if self._commit([delete, _digest_operation(month, entries, digest_etag)]):
                return True
        raise StorageUnavailable(f"the readiness row of {incident_id} kept changing; retry later")

    def rebuild(self, month: str) -> int:
        """Write the month's digest afresh from its incident rows (a backfill, or after rows were written without
        it); returns how many incidents it holds."""
        query = "PartitionKey eq @month and RowKey ne @digest"
        rows = self.table.query_entities(query, parameters={"month": month, "digest": DIGEST}, select=["summary"])
        entries = {}
        for row in rows:
            summary = summary_from_json(json.loads(row["summary"]))
            entries[summary.incident_id] = digest.entry(summary)
        self.table.upsert_entity({"PartitionKey": month, "RowKey": DIGEST, **digest.pack(entries)}, UpdateMode.REPLACE)
        return len(entries)

    def summaries(self, window: Window) -> Iterator[IncidentSummary]:
        """The summaries of incidents declared in the window (and of its service and severity), from the digests of
        the window's months."""
        for _, decoded in self._months(window):
            yield from filter(window.admits, decoded.summaries)

    def tallies(self, window: Window) -> list[Tally]:
        """The incidents of the window (and of its service and severity) as one tally per month: a month the window
        covers whole is tallied once per digest ETag and filter, a month it cuts from its summaries in the window."""
        found = []
        for month, decoded in self._months(window):
            if window.covers(month):
                found.append(decoded.tally(window.service, window.severity))
            else:
                found.append(tally(filter(window.admits, decoded.summaries)))
        return found

    def _months(self, window: Window) -> list[tuple[str, _Month]]:
        """The decoded digests of the window's months: one point read per month (a range query would walk every
        incident row as well), a few at a time, decoded again only when the digest's ETag changed."""
        months = window.month_list()
        found = list(_readers().map(lambda month: self._row(month, DIGEST), months))
        return [(month, self._decode(month, row)) for month, row in zip(months, found, strict=True) if row is not None]

    def _decode(self, month: str, row: Any) -> _Month:
        etag = row.metadata["etag"]
        with self._lock:
            cached = self._decoded.get(month)
        if cached is not None and cached.etag == etag:
            return cached
        decoded = _Month(etag, tuple(digest.summaries(row)))
        with self._lock:
            self._decoded[month] = decoded
        return decoded

    def get(self, incident_id: str, declared_at: datetime) -> IncidentSummary | None:
        found = self._row(declared_at.strftime("%Y-%m"), incident_id)
        return None if found is None else summary_from_json(json.loads(found["summary"]))

    def _row(self, month: str, incident_id: str) -> Any | None:
        with contextlib.suppress(ResourceNotFoundError):
            return self.table.get_entity(month, incident_id)
        return None

    def _digest(self, month: str) -> tuple[dict[str, list[Any]], str | None]:
        found = self._row(month, DIGEST)
        return (digest.unpack(found), found.metadata["etag"]) if found is not None else ({}, None)

    def _commit(self, operations: list[Any]) -> bool:
        """False when another writer changed the row or the digest first (look again and decide again)."""
        try:
            submit_transaction(self.table, operations)
        except TableTransactionError as failure:
            if lost_race(failure) or failure.error_code == "ResourceNotFound":
                return False
            raise
        return True


@dataclass
class _Month:
    """A month's digest as decoded from one ETag, with its tallies by service and severity worked out on first use."""

    etag: str
    summaries: tuple[IncidentSummary, ...]
    tallies: dict[tuple[str | None, int | None], Tally] = field(default_factory=dict)

    def tally(self, service: str | None, severity: int | None) -> Tally:
        found = self.tallies.get((service, severity))
        if found is None:  # two requests at once may both work it out: the same tally, either kept
            chosen = (
                summary
                for summary in self.summaries
                if (service is None or summary.service == service)
                and (severity is None or summary.severity == severity)
            )
            found = self.tallies[(service, severity)] = tally(chosen)
        return found


def _replacing(etag: str) -> dict[str, Any]:
    return {"mode": UpdateMode.REPLACE, "etag": etag, **_IF_UNCHANGED}


def _digest_operation(month: str, entries: dict[str, list[Any]], etag: str | None) -> tuple:
    row = {"PartitionKey": month, "RowKey": DIGEST, **digest.pack(entries)}
    return ("create", row) if etag is None else ("update", row, _replacing(etag))


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
    document: dict[str, Any] = {name: getattr(summary, name) for name in digest.SUMMARY_FIELDS}
    for name in digest.SUMMARY_INSTANTS:
        moment = getattr(summary, name)
        document[name] = moment.isoformat() if moment is not None else None
    document["pages"] = [[t.person, t.roster, t.period, t.hour, t.count] for t in summary.pages]
    document["paged"] = [[person, at.isoformat()] for person, at in summary.paged]
    document.update({name: getattr(summary, name) for name in digest.LATER_FIELDS})
    return document


def summary_from_json(document: dict[str, Any]) -> IncidentSummary:
    values = dict(document)
    for name in digest.SUMMARY_INSTANTS:
        values[name] = parse_instant(values[name]) if values[name] is not None else None
    values["pages"] = tuple(PageTally(*page) for page in values["pages"])
    values["paged"] = tuple((person, parse_instant(at)) for person, at in values.get("paged", ()))
    return IncidentSummary(**values)
