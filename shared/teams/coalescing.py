"""Cards waiting for one Workflows webhook leave together.

A webhook takes about 4 requests a second. In a storm fifty incidents can open within a few seconds, all paging
through one roster's webhook: one card per request, the last page would wait more than ten seconds for its turn. So
whoever gets the next request slot for a URL sends every card then waiting for that URL in one message — its
`attachments`, in the order they arrived, within Teams' 28 KB message limit. The Workflows template Firebell's set-up
uses ("Send webhook alerts to a channel") posts each attachment as its own card, so the channel shows the same cards,
sooner (docs/notifications.md).

A message for an incident's own channel names it beside its attachments (`teamId`, `channelId`: the channel flow,
shared.channels); that flow posts one card per request (docs/teams.md), so such a message always goes alone. In a
quiet moment a card goes alone, byte for byte as it was encoded. A combined message that Workflows refuses is sent
again card by card, and a refusal is never passed to the cards still waiting, so one card Workflows refuses never
takes its neighbours with it. When the webhook is down (the send raised anything else), every card waiting for it
gets the same failure at once rather than queueing for an attempt of its own: its delivery defers, as it would
have after its own attempts. A card that arrives while a send to its webhook is retrying waits for that send, then
makes its own: two sends in the worst case, which can outlast the claim its caller works under
(shared.notifications.ledger.CLAIM_HOLD) — then its step may be taken over and the card posted twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 28 * 1024  # Teams' limit for one message (what a webhook refuses with 413 above it)


@dataclass(eq=False)
class _Waiting:
    body: bytes
    route: str = ""  # what the envelope says beside its attachments (a channel): only equal routes combine
    done: threading.Event = field(default_factory=threading.Event)
    failure: BaseException | None = None

    def finish(self, failure: BaseException | None = None) -> None:
        self.failure = failure
        self.done.set()


def combined(bodies: list[bytes]) -> bytes:
    """One message carrying the attachments of every message in `bodies`, in order. A single body is returned as
    it is, so that a card sent alone is exactly the bytes it was encoded as."""
    if len(bodies) == 1:
        return bodies[0]
    documents = [json.loads(body) for body in bodies]
    attachments = [attachment for document in documents for attachment in document["attachments"]]
    # Addressed alike (Coalescer only combines equal routes): the first message's address is every message's.
    message = {**documents[0], "type": "message", "attachments": attachments}
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _route(body: bytes) -> str:
    """The envelope's keys other than `type` and `attachments`, canonically; "" for a plain card message."""
    if b'"channelId"' not in body and b'"teamId"' not in body:
        return ""  # the common case, without parsing
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    extra = (
        {k: v for k, v in document.items() if k not in ("type", "attachments")} if isinstance(document, dict) else {}
    )
    return json.dumps(extra, sort_keys=True)


def _fits(bodies: list[bytes], limit: int) -> bool:
    # Each attachment's bytes plus a comma; the envelope adds a few dozen bytes: a conservative, parse-free bound.
    envelope = len(b'{"type":"message","attachments":[]}')
    return envelope + sum(len(body) - envelope + 1 for body in bodies) <= limit


class Coalescer:
    """Sends messages to webhooks through `send(url, body)`, one request at a time per URL in this process, each
    request carrying the messages waiting for that URL when a request slot came free (`slot(url)` blocks until then:
    the webhook's request budget, shared by all instances). `send` makes its own attempts; what it raises is the
    outcome of every message it carried."""

    def __init__(
        self,
        send: Callable[[str, bytes], None],
        slot: Callable[[str], None],
        refused: Callable[[BaseException], bool],
        limit: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self._send = send
        self._slot = slot
        self._refused = refused  # a failure sending again cannot fix (a 4xx): perhaps one card's doing
        self._limit = limit
        self._lock = threading.Lock()
        self._waiting: dict[str, list[_Waiting]] = {}
        self._turns: dict[str, threading.Lock] = {}

    def post(self, url: str, body: bytes) -> None:
        """Deliver `body` to `url`, on its own or with others; raises what sending it raised."""
        mine = _Waiting(body, _route(body))
        with self._lock:
            self._waiting.setdefault(url, []).append(mine)
            turn = self._turns.setdefault(url, threading.Lock())
        while not mine.done.is_set():
            with turn:  # one request in flight per URL: the others wait here and gather into the next one
                if not mine.done.is_set():
                    self._slot(url)
                    self._deliver(url, self._take(url, mine))
        if mine.failure is not None:
            # Many threads may raise this one failure: each starts its traceback afresh from its own frames.
            raise mine.failure.with_traceback(None)

    def _take(self, url: str, mine: _Waiting) -> list[_Waiting]:
        """The waiting messages for `url` that fit in one request, oldest first, always including `mine`."""
        with self._lock:
            queue = self._waiting[url]
            batch = [mine]
            for other in queue:
                if (
                    other is not mine
                    and not mine.route  # a channel flow posts one card per request (docs/teams.md): alone
                    and not other.route
                    and _fits([*(item.body for item in batch), other.body], self._limit)
                ):
                    batch.append(other)
            batch.sort(key=queue.index)
            self._waiting[url] = [item for item in queue if item not in batch]
            return batch

    def _deliver(self, url: str, batch: list[_Waiting]) -> None:
        try:
            self._send(url, combined([item.body for item in batch]))
        except Exception as failure:
            if self._refused(failure):
                # Perhaps one card's doing: the cards still waiting get their own turn, never this refusal.
                if len(batch) > 1:
                    self._one_by_one(url, batch)
                else:
                    batch[0].finish(failure)
                return
            for item in [*batch, *self._give_up_waiting(url)]:  # the webhook is down for all of them
                item.finish(failure)
            return
        for item in batch:
            item.finish()

    def _one_by_one(self, url: str, batch: list[_Waiting]) -> None:
        for item in batch:
            try:
                self._slot(url)
                self._send(url, item.body)
            except Exception as failure:
                item.finish(failure)
            else:
                item.finish()

    def _give_up_waiting(self, url: str) -> list[_Waiting]:
        with self._lock:
            waiting, self._waiting[url] = self._waiting[url], []
        return waiting
