"""Timer triggers on 6-field NCRONTAB schedules ({second} {minute} {hour} {day} {month} {day-of-week}), each fired
by one instance at a time, as the Functions host does (a blob lease per function: TimerLock)."""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.functions.timer import TimerRequest
from azure.storage.blob import BlobClient, BlobLeaseClient
from croniter import croniter

from devhost.catalog import FunctionSpec, resolve_setting
from devhost.hostjson import timespan_seconds
from devhost.invoker import Invoker

log = logging.getLogger("devhost")


def next_occurrence(schedule: str, after: datetime) -> datetime:
    """The next firing time after `after`: NCRONTAB (seconds first) or a TimeSpan such as '00:05:00'."""
    if ":" in schedule:
        return after + timedelta(seconds=timespan_seconds(schedule))
    fields = schedule.split()
    if len(fields) != 6:
        raise ValueError(f"timer schedule {schedule!r} must have 6 fields (NCRONTAB, seconds first)")
    return croniter(schedule, after, second_at_beginning=True).get_next(datetime)


LOCKS = "azure-webjobs-hosts"  # the container where the Functions host keeps its locks
LOCK_SECONDS = 15  # the shortest blob lease: an instance that died lets its timers go within it


class TimerLock:
    """The Functions host's timer singleton: however many instances run, one fires each tick. Each tick, an instance
    takes (or renews) a blob lease named after the function; whoever holds it fires, the others skip the tick. The
    holder keeps it while its ticks come within LOCK_SECONDS; a holder that stopped (or died) lets it go, and the
    next tick goes to whichever instance is first."""

    def __init__(self, blob: BlobClient) -> None:
        self.blob = blob
        self.lease = BlobLeaseClient(blob, lease_id=str(uuid.uuid4()))  # this instance's, for its lifetime

    def take(self) -> bool:
        for _ in range(2):
            try:
                self.lease.acquire(lease_duration=LOCK_SECONDS)  # with our own id, a lease we hold is renewed
                return True
            except ResourceNotFoundError:  # the first tick ever (or storage wiped): the lock blob is made once
                with contextlib.suppress(ResourceExistsError):
                    self.blob.upload_blob(b"", overwrite=False)
            except HttpResponseError as error:
                if error.status_code != 409:  # 409: another instance holds it, and this tick is theirs
                    log.warning("timer lock %s unavailable (%s): tick skipped", self.blob.blob_name, error.reason)
                return False
            except AzureError as error:  # as the host: no lock, no tick (storage is what the timers need anyway)
                log.warning("timer lock %s unavailable (%s): tick skipped", self.blob.blob_name, type(error).__name__)
                return False
        return False

    def release(self) -> None:
        with contextlib.suppress(AzureError):  # never held, or it ran out: nothing to let go
            self.lease.release()


class TimerRunner:
    def __init__(
        self, spec: FunctionSpec, invoker: Invoker, stopping: threading.Event, lock: TimerLock | None = None
    ) -> None:
        self.spec = spec
        self.invoker = invoker
        self.stopping = stopping
        self.lock = lock
        self.schedule = resolve_setting(spec.trigger["schedule"])
        next_occurrence(self.schedule, datetime.now(UTC))  # fail at start-up, not at the first tick
        self.thread = threading.Thread(target=self.run, name=f"timer-{spec.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self) -> None:
        self.thread.join()
        if self.lock is not None:
            self.lock.release()  # as the host does on shutdown: the next tick may go to another instance at once

    def run(self) -> None:
        if self.spec.trigger.get("runOnStartup"):
            self.fire(past_due=False)
        due = next_occurrence(self.schedule, datetime.now(UTC))
        while not self.stopping.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
            late = datetime.now(UTC) - due > timedelta(seconds=5)
            self.fire(past_due=late)
            due = next_occurrence(self.schedule, max(due, datetime.now(UTC)))

    def fire(self, past_due: bool) -> None:
        try:
            if self.lock is not None and not self.lock.take():
                log.debug("timer %s: this tick runs on another instance", self.spec.name)
                return
            self.invoker.invoke(self.spec, TimerRequest(past_due=past_due))
        except Exception:
            log.exception("timer function %s failed", self.spec.name)


def lock_name(function: str) -> str:
    """The lock blob of a timer function, named as the host names its listener locks."""
    return f"locks/devhost/{function}.Listener"
