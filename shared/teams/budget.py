"""A Workflows webhook's request budget, shared by every instance (Azure Tables, `webhookbudgets`).

Workflows throttles per webhook (about 4 requests a second, then 429 with Retry-After) however many instances send
to it, so a limiter per process lets N instances send N times too fast. The budget is one row per webhook URL
holding the last request starts and a 429's pause (RowKey: a hash — the URL carries its signature and is never
stored). An instance starts a request only once it has written its start into the row under If-Match, so every
start is counted against the latest row: at most 4 in any 1.05 s across all instances (their clocks agree to well
within the window's margin). A 429's Retry-After is written there too, and every instance waits it out.

Quiet, it costs one conditional write per request: the row and its ETag are remembered from this instance's last
write, and read again only when another instance wrote since (412). Storage trouble never holds a page back: the
budget then falls back to this process's own limiter and says so in the log.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.core.storage import StorageAccount
from shared.teams.workflow import MAX_REQUESTS, PER_SECONDS, RequestLimiter, wait_to_start

log = logging.getLogger("firebell.workflow")

WEBHOOK_BUDGETS = "webhookbudgets"
PARTITION = "workflow"


@dataclass(frozen=True)
class _Row:
    starts: tuple[float, ...]  # epoch seconds, oldest first, at most MAX_REQUESTS
    held_until: float
    etag: str | None  # None: no row yet


_NO_ROW = _Row((), 0.0, None)


def budget_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:40]


class WebhookBudget:
    """Request starts per webhook URL across instances. `account` is called on each use (the composition root's
    storage account, which tests change between cases)."""

    def __init__(
        self,
        account: Callable[[], StorageAccount],
        max_requests: int = MAX_REQUESTS,
        per_seconds: float = PER_SECONDS,
        clock: Callable[[], float] = time.time,  # wall clock: the instances compare their starts
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._account = account
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._clock = clock
        self._sleep = sleep
        self._fallback = RequestLimiter(max_requests, per_seconds)
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}  # this instance's last view of each row
        self._turns: dict[str, threading.Lock] = {}

    @property
    def table(self) -> TableClient:
        return self._account().table(WEBHOOK_BUDGETS)

    def acquire(self, url: str) -> None:
        """Block until a request to `url` may start, then count it in the shared row."""
        key = budget_key(url)
        with self._turn(key):  # threads of this process take turns; instances race on the row's ETag
            try:
                self._acquire(key)
            except AzureError as error:
                self._forget(key)
                log.warning("webhook budget unavailable (%s): this process's own limit applies", type(error).__name__)
                self._fallback.acquire(url)

    def hold_for(self, seconds: float, url: str) -> None:
        """No instance starts a request to `url` for `seconds` (a 429's Retry-After)."""
        self._fallback.hold_for(seconds, url)
        key = budget_key(url)
        with self._turn(key):
            try:
                for _ in range(8):  # a few instances may write at once; each try reads the latest row
                    row = self._view(key)
                    until = max(row.held_until, self._clock() + seconds)
                    if until == row.held_until or self._write(key, row, row.starts, until):
                        return
                    self._forget(key)
            except AzureError as error:
                self._forget(key)
                log.warning("webhook budget unavailable (%s): the pause holds in this process", type(error).__name__)

    def _acquire(self, key: str) -> None:
        while True:
            row = self._view(key)
            now = self._clock()
            # A remembered row may be stale: then the wait is too short, never too long, and the write below fails.
            wait = wait_to_start(list(row.starts), row.held_until, now, self.max_requests, self.per_seconds)
            if wait > 0:
                self._sleep(wait)
                continue
            recent = tuple(start for start in row.starts if start > now - self.per_seconds)
            if self._write(key, row, (*recent, now)[-self.max_requests :], row.held_until):
                return
            self._forget(key)  # another instance wrote first: read its row and decide again

    def _view(self, key: str) -> _Row:
        """The row as this instance last wrote or read it, else as it is now."""
        row = self._rows.get(key)
        if row is None:
            row = self._read(key)
            with self._lock:
                self._rows[key] = row
        return row

    def _read(self, key: str) -> _Row:
        try:
            entity = self.table.get_entity(PARTITION, key)
        except ResourceNotFoundError:
            return _NO_ROW
        starts = tuple(float(start) for start in str(entity.get("starts", "")).split() if start)
        return _Row(starts, float(entity.get("held_until", 0.0)), entity.metadata["etag"])

    def _write(self, key: str, row: _Row, starts: tuple[float, ...], held_until: float) -> bool:
        """Replace the row as `row` saw it; False when another instance changed (or created) it meanwhile."""
        entity = {
            "PartitionKey": PARTITION,
            "RowKey": key,
            "starts": " ".join(f"{start:.3f}" for start in starts),
            "held_until": held_until,
        }
        try:
            if row.etag is None:
                written = self.table.create_entity(entity)
            else:
                written = self.table.update_entity(
                    entity, UpdateMode.REPLACE, etag=row.etag, match_condition=MatchConditions.IfNotModified
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            return False
        with self._lock:
            self._rows[key] = _Row(starts, held_until, written["etag"])
        return True

    def _forget(self, key: str) -> None:
        with self._lock:
            self._rows.pop(key, None)

    def _turn(self, key: str) -> threading.Lock:
        with self._lock:
            return self._turns.setdefault(key, threading.Lock())
