"""The one rule both the notifications and the Boards consumers defer by: backoff from 10 s doubling to 5 minutes,
a service's Retry-After first, and nothing deferred once 45 minutes have passed since the first failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.core import deferral
from shared.core.deferral import MAX_PAUSE_SECONDS, OUTAGE_BOUND, deferred, exhausted, gives_up, next_delay
from shared.core.queues import MAX_DEQUEUE_COUNT
from shared.notifications.ledger import CLAIM_LEASE

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
MESSAGE = {"incident": "INC-1", "event": "e1", "events": ["e1"]}


def schedule(retry_after: float | None = None) -> list[int]:
    """The pauses of a message whose service never comes back: each deferral fed the document the last one made."""
    document, now, pauses = dict(MESSAGE), T0, []
    while (delay := next_delay(document, retry_after, now)) is not None:
        pauses.append(delay)
        document = deferred(document, now)
        now += timedelta(seconds=delay)
    return pauses


def test_the_pauses_double_from_ten_seconds_to_five_minutes_until_the_bound():
    assert schedule() == [10, 20, 40, 80, 160, *[300] * 8]
    assert sum(schedule()) == 2710  # the last attempt: 45 min 10 s after the first failure


def test_a_retry_after_wins_over_the_backoff_within_the_pause_cap():
    assert next_delay(MESSAGE, 120.0, T0) == 120
    assert next_delay({**MESSAGE, "deferrals": 4}, 61.2, T0) == 62  # shorter than the 160 s backoff: it still wins
    assert next_delay(MESSAGE, 3600.0, T0) == MAX_PAUSE_SECONDS  # asked again after 5 minutes
    assert schedule(retry_after=120.0) == [120] * 23


def test_the_bound_is_counted_from_the_first_failure_the_message_carries():
    first = deferred(MESSAGE, T0)
    assert first == {**MESSAGE, "deferrals": 1, "first_failure": "2026-12-02T10:00:00.000Z"}
    later = deferred(first, T0 + timedelta(minutes=20))
    assert (later["deferrals"], later["first_failure"]) == (2, "2026-12-02T10:00:00.000Z")
    assert not exhausted(later, T0 + OUTAGE_BOUND - timedelta(seconds=1))
    assert exhausted(later, T0 + OUTAGE_BOUND)
    assert next_delay(later, 30.0, T0 + OUTAGE_BOUND) is None  # a Retry-After does not extend the bound


def test_a_message_that_never_failed_starts_its_bound_now_and_one_from_the_future_cannot_postpone_it():
    assert not exhausted(MESSAGE, T0)
    future = {**MESSAGE, "first_failure": "2099-01-01T00:00:00Z", "deferrals": 3}
    assert deferred(future, T0)["first_failure"] == "2026-12-02T10:00:00.000Z"
    for junk in ("yesterday", 17, None):
        assert deferred({**MESSAGE, "first_failure": junk}, T0)["first_failure"] == "2026-12-02T10:00:00.000Z"
    assert deferral.deferrals({"deferrals": True}) == 0 and deferral.deferrals({"deferrals": -3}) == 0


def test_only_the_last_delivery_of_a_message_that_cannot_be_deferred_gives_up():
    assert gives_up(MAX_DEQUEUE_COUNT, deferrable=False)
    assert not gives_up(MAX_DEQUEUE_COUNT, deferrable=True)  # the outage defers it instead
    assert not gives_up(MAX_DEQUEUE_COUNT - 1, deferrable=False)  # the queue delivers it again


def test_a_pause_never_outlasts_the_escalation_claim_it_keeps():
    assert timedelta(seconds=MAX_PAUSE_SECONDS) < CLAIM_LEASE


def test_a_producers_message_is_not_a_deferred_copy():
    assert not deferral.is_deferred(MESSAGE)
    assert deferral.is_deferred(deferred(MESSAGE, T0))
