"""The simulated Functions host the outage suites run on (chaos.simulated_host), over Azurite: a message a flow queues
with a visibility delay is delivered that much later in simulated time, a failing one comes back after host.json's
visibilityTimeout and goes to `<queue>-poison` after maxDequeueCount deliveries, and timers tick on the same clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chaos.simulated_host import DONE, FAILED, POISONED, SimulatedHost
from devhost.hostjson import QueueOptions

START = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
OPTIONS = QueueOptions(max_dequeue_count=5, visibility_timeout=5.0)


def test_a_message_queued_with_a_delay_arrives_that_much_later_and_a_failing_one_ends_in_poison(
    azurite, storage_account
):
    host = SimulatedHost(azurite.connection_string, START, OPTIONS)
    ticks: list[datetime] = []

    def flow(body: bytes, message_id: str, dequeue_count: int, now: datetime) -> None:
        if body == b"first":  # queues the next message for two minutes later, as a deferral does
            host.account.queue("work").send_message("second", visibility_timeout=120)
        elif body == b"second":
            raise RuntimeError("always fails")

    host.listen("work", flow)
    host.every(timedelta(minutes=1), ticks.append)
    host.send("work", "first")
    host.run(until=START, limit=START + timedelta(hours=1))

    seen = [(d.body, d.dequeue_count, d.outcome, d.at - START) for d in host.deliveries]
    assert seen == [
        ("first", 1, DONE, timedelta(0)),
        *[("second", n, FAILED, timedelta(seconds=120 + 5 * (n - 1))) for n in range(1, 5)],
        ("second", 5, POISONED, timedelta(seconds=140)),
    ]
    assert ticks == [START + timedelta(minutes=1), START + timedelta(minutes=2)]
    assert host.pending == 0
    assert host.account.message_count("work") == 0 and host.account.message_count("work-poison") == 1
