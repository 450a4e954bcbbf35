"""The Functions host's queue listeners and timers on a simulated clock, so that a 30-minute outage is ridden out in
seconds: the chaos runs (and their fast versions in the tests) drive Firebell's flows with it.

Messages live in Azurite, as in Azure, but each is kept hidden (a long real visibility) while the host keeps its own
schedule of when it becomes visible in simulated time: the delay the producer asked for when it queued the message
(read off the Put Message request through the storage account's response hook — a flow's deferral, the next
escalation step), or host.json's visibilityTimeout after a failed delivery. To deliver a message the host makes it
visible, receives it (so Azurite counts the delivery), runs the queue's flow with the simulated `now`, and then, as
the Functions host does, deletes it, hides it again for the next delivery, or after maxDequeueCount deliveries moves
it to `<queue>-poison`. Timers fire on the same clock. The clock does not move while a flow runs: in-process
retries (a few seconds at most) are not counted.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devhost.hostjson import QueueOptions
from shared.core.queues import poison
from shared.core.storage import StorageAccount

# What a queue's function does with one delivery: (body, message id, dequeue count, now).
Flow = Callable[[bytes, str, int, datetime], Any]
HIDDEN_SECONDS = 3600  # real time: nothing surfaces on its own while a run lasts
DONE, FAILED, POISONED = "done", "failed", "poisoned"


@dataclass(frozen=True)
class Delivery:
    queue: str
    message_id: str
    body: str
    dequeue_count: int
    at: datetime
    outcome: str  # done | failed (delivered again later) | poisoned
    error: str = ""


@dataclass(frozen=True)
class _Queued:
    queue: str
    message_id: str
    pop_receipt: str
    delay: int


class SimulatedHost:
    def __init__(self, connection_string: str, start: datetime, options: QueueOptions) -> None:
        self.now = start
        self.options = options
        self.account = StorageAccount(connection_string, on_response=self._observe)
        self.deliveries: list[Delivery] = []
        self._flows: dict[str, Flow] = {}
        self._timers: list[tuple[timedelta, Callable[[datetime], Any]]] = []
        self._timer_next: list[datetime] = []
        self._actions: list[tuple[datetime, int, Callable[[], Any]]] = []
        self._due: list[tuple[datetime, int, str, str]] = []  # (visible at, order, queue, message id)
        self._receipts: dict[str, str] = {}
        self._observed: list[_Queued] = []
        self._observed_lock = threading.Lock()
        self._order = itertools.count()

    # --- what runs ----------------------------------------------------------------------------------------------------
    def listen(self, queue: str, flow: Flow) -> None:
        self.account.queue(queue)  # created before anything is queued on it
        self._flows[queue] = flow

    def every(self, period: timedelta, tick: Callable[[datetime], Any]) -> None:
        self._timers.append((period, tick))
        self._timer_next.append(self.now + period)

    def at(self, when: datetime, action: Callable[[], Any]) -> None:
        """Something the world does at a moment of simulated time (an outage ends, a responder speaks)."""
        heapq.heappush(self._actions, (when, next(self._order), action))

    def send(self, queue: str, body: str, delay: int = 0) -> str:
        """A producer's message (the alerts function's output binding, say); returns its id."""
        sent = self.account.queue(queue).send_message(body, visibility_timeout=delay)
        self._schedule_observed()
        return sent.id

    @property
    def pending(self) -> int:
        return len(self._due)

    # --- the clock ----------------------------------------------------------------------------------------------------
    def run(self, until: datetime, limit: datetime) -> None:
        """Move the clock event by event: up to `until`, then on while messages or actions are still due, never past
        `limit` (what is still due then is left pending)."""
        while True:
            if not self._due and not self._actions and self.now >= until:
                return
            upcoming = [moment for moment in (self._next_due(), self._next_action()) if moment is not None]
            upcoming += self._timer_next
            moment = min(upcoming) if upcoming else until
            if moment > limit:
                self.now = limit
                return
            self.now = max(self.now, moment)
            self._step()

    def _next_due(self) -> datetime | None:
        return self._due[0][0] if self._due else None

    def _next_action(self) -> datetime | None:
        return self._actions[0][0] if self._actions else None

    def _step(self) -> None:
        while self._actions and self._actions[0][0] <= self.now:
            heapq.heappop(self._actions)[2]()
            self._schedule_observed()
        for index, (period, tick) in enumerate(self._timers):
            if self._timer_next[index] <= self.now:
                self._timer_next[index] = self.now + period
                tick(self.now)
                self._schedule_observed()
        due: dict[str, list[str]] = {}
        while self._due and self._due[0][0] <= self.now:
            _, _, queue, message_id = heapq.heappop(self._due)
            due.setdefault(queue, []).append(message_id)
        for queue, ids in due.items():
            for message in self._receive(queue, ids):
                self._deliver(queue, message)
                self._schedule_observed()

    # --- the queue ----------------------------------------------------------------------------------------------------
    def _receive(self, queue: str, ids: list[str]) -> list[Any]:
        client = self.account.queue(queue)
        for message_id in ids:
            client.update_message(message_id, pop_receipt=self._receipts.pop(message_id), visibility_timeout=0)
        received: list[Any] = []
        while len(received) < len(ids):
            batch = list(client.receive_messages(max_messages=32, visibility_timeout=HIDDEN_SECONDS))
            if not batch:
                raise AssertionError(f"{queue}: {len(ids) - len(received)} due messages did not surface")
            received += batch
        unexpected = {message.id for message in received} - set(ids)
        if unexpected:
            raise AssertionError(f"{queue}: messages nobody scheduled surfaced: {sorted(unexpected)}")
        return received

    def _deliver(self, queue: str, message: Any) -> None:
        client = self.account.queue(queue)
        body = message.content
        try:
            self._flows[queue](body.encode(), message.id, message.dequeue_count, self.now)
        except Exception as failure:
            error = f"{type(failure).__name__}: {failure}"
            if message.dequeue_count >= self.options.max_dequeue_count:
                self.account.queue(poison(queue)).send_message(body)
                client.delete_message(message.id, message.pop_receipt)
                self._record(queue, message, POISONED, error)
                return
            hidden = client.update_message(message.id, message.pop_receipt, visibility_timeout=HIDDEN_SECONDS)
            self._receipts[message.id] = hidden.pop_receipt
            retry = self.now + timedelta(seconds=self.options.visibility_timeout)
            heapq.heappush(self._due, (retry, next(self._order), queue, message.id))
            self._record(queue, message, FAILED, error)
            return
        client.delete_message(message.id, message.pop_receipt)
        self._record(queue, message, DONE)

    def _record(self, queue: str, message: Any, outcome: str, error: str = "") -> None:
        self.deliveries.append(
            Delivery(queue, message.id, message.content, message.dequeue_count, self.now, outcome, error)
        )

    # --- learning what was queued ------------------------------------------------------------------------------------
    def _observe(self, response: Any) -> None:
        """Every storage answer passes here (azure-core's raw_response_hook); a Put Message on a queue this host
        drives is noted with the visibility delay its request asked for."""
        request = response.http_request
        if request.method != "POST":
            return
        url = urlsplit(request.url)
        parts = url.path.strip("/").split("/")
        if len(parts) < 2 or parts[-1] != "messages" or parts[-2] not in self._flows:
            return
        if response.http_response.status_code != 201:
            return
        document = ElementTree.fromstring(response.http_response.text())  # noqa: S314 (the storage account answering)
        delay = int(parse_qs(url.query).get("visibilitytimeout", ["0"])[0])
        for entry in document.iter("QueueMessage"):
            queued = _Queued(parts[-2], entry.findtext("MessageId", ""), entry.findtext("PopReceipt", ""), delay)
            with self._observed_lock:
                self._observed.append(queued)

    def _schedule_observed(self) -> None:
        """Hide what was just queued (in real time) and put it on the simulated schedule."""
        with self._observed_lock:
            observed, self._observed = self._observed, []
        for queued in observed:
            hidden = self.account.queue(queued.queue).update_message(
                queued.message_id, queued.pop_receipt, visibility_timeout=HIDDEN_SECONDS
            )
            self._receipts[queued.message_id] = hidden.pop_receipt
            visible = self.now + timedelta(seconds=queued.delay)
            heapq.heappush(self._due, (visible, next(self._order), queued.queue, queued.message_id))
