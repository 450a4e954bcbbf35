"""The publisher's private record (shared.statuspage.site_record) in the private `statuspage` container: the record
of the published site, claimed under its ETag, and the incident list of each month page.

A claim is a conditional write (If-Match the ETag read, or If-None-Match * when there was none): of two renders
that read the same record, one claims the next state and the other reads again.
"""

from __future__ import annotations

from datetime import date

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from shared.core.contention import attempts
from shared.core.storage import StorageAccount
from shared.statuspage.site_record import (
    Known,
    SiteRecord,
    decode_month,
    decode_record,
    encode_month,
    encode_record,
)
from shared.statuspage.web_store import PublishContention

RECORD_CONTAINER = "statuspage"
_RECORD = "site.json"
_MONTHS = "months/"


def read_record(account: StorageAccount) -> tuple[SiteRecord | None, str | None]:
    """(record, ETag): (None, None) when there is none; (None, ETag) when it cannot be read (it is replaced)."""
    body, etag = _read(account, _RECORD)
    return (decode_record(body) if body is not None else None), etag


def write_record(account: StorageAccount, record: SiteRecord, etag: str | None) -> str | None:
    """The record written if it is still as read (`etag`, None: absent); its new ETag, or None when another render
    wrote it first."""
    return _write(account, _RECORD, encode_record(record), etag)


def read_month(account: StorageAccount, month: date) -> tuple[int, tuple[Known, ...], str | None]:
    """(state, incidents, ETag) of a month page's list; (0, (), None) when it has none yet."""
    body, etag = _read(account, _month(month))
    if body is None:
        return 0, (), None
    return (*decode_month(body), etag)


def write_month(account: StorageAccount, month: date, state: int, known: tuple[Known, ...], etag: str | None) -> bool:
    return _write(account, _month(month), encode_month(state, known), etag) is not None


class MonthLists:
    """Month lists as one render reads them (once each), and written under their state."""

    def __init__(self, account: StorageAccount) -> None:
        self._account = account
        self._read: dict[date, dict[str, Known]] = {}
        self._etags: dict[date, tuple[int, str | None]] = {}  # month → (state, ETag) as read

    def known(self, month: date) -> dict[str, Known]:
        if month not in self._read:
            state, listed, etag = read_month(self._account, month)
            self._read[month] = {k.ident: k for k in listed}
            self._etags[month] = (state, etag)
        return self._read[month]

    def write(self, month: date, state: int, known: tuple[Known, ...]) -> None:
        """Over an older state only: a newer state's list holds everything this one does (it read this state's
        record, with its changes pending, or this list as written)."""
        found, etag = self._etags.pop(month, None) or read_month(self._account, month)[::2]
        for _attempt in attempts():
            if found >= state or write_month(self._account, month, state, known, etag):
                return
            found, _listed, etag = read_month(self._account, month)  # written since: decide again
        raise PublishContention(f"the list of {month:%Y-%m} changed under every attempt")


def listed_months(account: StorageAccount) -> set[date]:
    """Every month that has a list: one listing of the private container (a full render rewrites them all)."""
    names = account.container(RECORD_CONTAINER).list_blob_names(name_starts_with=_MONTHS)
    return {date.fromisoformat(name[len(_MONTHS) : -len(".json")] + "-01") for name in names}


def _month(month: date) -> str:
    return f"{_MONTHS}{month.isoformat()[:7]}.json"


def _read(account: StorageAccount, name: str) -> tuple[bytes | None, str | None]:
    try:
        download = account.container(RECORD_CONTAINER).download_blob(name)
    except ResourceNotFoundError:
        return None, None
    return download.readall(), download.properties.etag


def _write(account: StorageAccount, name: str, body: bytes, etag: str | None) -> str | None:
    condition = (
        {"match_condition": MatchConditions.IfMissing}
        if etag is None
        else {"etag": etag, "match_condition": MatchConditions.IfNotModified}
    )
    blob = account.container(RECORD_CONTAINER).get_blob_client(name)
    try:
        return blob.upload_blob(body, overwrite=True, **condition)["etag"]
    except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
        return None
