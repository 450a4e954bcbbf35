"""Timer triggers on 6-field NCRONTAB schedules ({second} {minute} {hour} {day} {month} {day-of-week})."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from azure.functions.timer import TimerRequest
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


class TimerRunner:
    def __init__(self, spec: FunctionSpec, invoker: Invoker, stopping: threading.Event) -> None:
        self.spec = spec
        self.invoker = invoker
        self.stopping = stopping
        self.schedule = resolve_setting(spec.trigger["schedule"])
        next_occurrence(self.schedule, datetime.now(UTC))  # fail at start-up, not at the first tick
        self.thread = threading.Thread(target=self.run, name=f"timer-{spec.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self) -> None:
        self.thread.join()

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
            self.invoker.invoke(self.spec, TimerRequest(past_due=past_due))
        except Exception:
            log.exception("timer function %s failed", self.spec.name)
