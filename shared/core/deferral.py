"""Patience with a dependency's outage: whether a queue message whose work failed because a service was unavailable
(Teams Workflows, Azure DevOps) goes back on its queue, and after what pause — or that it has waited long enough.

The queue's own redelivery (host.json: 5 deliveries about 5 s apart) rides out a hiccup of seconds; a real outage
lasts minutes. So such a message is *deferred*: the consumer sends it again as a new message, hidden for a pause
that doubles from FIRST_PAUSE up to MAX_PAUSE (a Retry-After from the service replaces the backoff, capped the
same), and completes the delivery. The body carries how often it was deferred (`deferrals`) and when its first
failure was (`first_failure`); the notifications consumers also carry `holder`, the id its escalation claims are
held under. Consumers read only the keys they know, so the extra keys travel unnoticed.

The bound: no deferral starts once OUTAGE_BOUND has passed since the first failure. The work is then tried at most
one pause later, and if it still fails the message fails like any other — redelivered by the queue, and on its last
delivery (`gives_up`) the failure goes on the incident's timeline before the host moves it to `<queue>-poison`.
45 minutes covers a 30-minute outage with room for the 5-minute pauses, which can land the retry up to one pause
after the service is back; an outage longer than that is one people must hear about, not one to wait out silently.

Each pause stays below the escalation ledger's claim lease (10 minutes), and every delivery of the holder renews
its claim, so a deferred page keeps its claim through the whole bound.

Pure — the message's document in, a delay (or None) out — but for `defer`, the queue write of the consumers whose
message goes again as it was (Azure Boards, incident channels). The notifications and contacts consumers write
theirs: they send it under a holder and hold its claims through the pause.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.core.errors import reason
from shared.core.queues import MAX_DEQUEUE_COUNT
from shared.core.timeutil import iso, parse_instant

if TYPE_CHECKING:
    from shared.core.storage import StorageAccount

FIRST_PAUSE_SECONDS = 10
MAX_PAUSE_SECONDS = 300  # also the longest Retry-After honoured in one pause: a longer one is asked again then
OUTAGE_BOUND = timedelta(minutes=45)

DEFERRALS, FIRST_FAILURE, HOLDER = "deferrals", "first_failure", "holder"


def deferrals(document: dict[str, Any]) -> int:
    count = document.get(DEFERRALS, 0)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0


def first_failure(document: dict[str, Any], now: datetime) -> datetime:
    """When the work first failed: the message's own record, else now (this is the first failure). A time in the
    future (a clock gone wrong, a hand-made message) counts as now, so the bound cannot be postponed forever."""
    value = document.get(FIRST_FAILURE)
    try:
        when = parse_instant(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    return now if when is None or when > now else when


def exhausted(document: dict[str, Any], now: datetime) -> bool:
    """True once OUTAGE_BOUND has passed since the first failure: the message is not deferred again."""
    return now - first_failure(document, now) >= OUTAGE_BOUND


def next_delay(document: dict[str, Any], retry_after: float | None, now: datetime) -> int | None:
    """Seconds to hide the deferred message for; None when the bound is exhausted."""
    if exhausted(document, now):
        return None
    if retry_after is not None and retry_after >= 0:
        pause = math.ceil(retry_after)  # the service said when: that wins over our backoff
    else:
        pause = FIRST_PAUSE_SECONDS * 2 ** min(deferrals(document), 16)
    return max(1, min(pause, MAX_PAUSE_SECONDS))


def deferred(document: dict[str, Any], now: datetime, **extra: Any) -> dict[str, Any]:
    """The message to send again: the same document, one more deferral, its first failure kept (or now)."""
    return {
        **document,
        **extra,
        DEFERRALS: deferrals(document) + 1,
        FIRST_FAILURE: iso(first_failure(document, now)),
    }


def defer(account: StorageAccount, queue: str, document: dict[str, Any], outage: Exception, now: datetime) -> Any:
    """The same message again on `queue`, hidden for the next pause (the outage's Retry-After first), logged by the
    queue's consumer (`firebell.<queue>`); returns the message sent, or None once the bound is exhausted."""
    delay = next_delay(document, getattr(outage, "retry_after", None), now)
    if delay is None:
        return None
    again = deferred(document, now)
    sent = account.queue(queue).send_message(json.dumps(again), visibility_timeout=delay)
    log = logging.getLogger(f"firebell.{queue}")
    log.warning("%s: %s; message deferred %d s (deferral %d)", queue, reason(outage), delay, again[DEFERRALS])
    return sent


def is_deferred(document: dict[str, Any]) -> bool:
    """A copy sent again by a consumer (not the producer's message): work done before the failure is done."""
    return deferrals(document) > 0


def gives_up(dequeue_count: int, deferrable: bool) -> bool:
    """Whether a failure on this delivery is final: the queue's last delivery, and the message cannot be deferred
    (its bound is exhausted, or the failure is not one that waiting cures). It is the delivery that writes the
    failure on the timeline."""
    return dequeue_count >= MAX_DEQUEUE_COUNT and not deferrable
