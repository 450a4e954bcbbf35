"""What a change message asks of the published status site, and when a published render covers it (so the message
needs no render of its own): the rule that coalesces a burst of messages into few renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Another instance's clock may differ a little from ours, and the queue's insertion times are whole seconds: a
# render covers a message when it began reading after the message reached us (by our own clock, for our renders;
# CLOCK_SKEW later for another instance's), or 1 s + CLOCK_SKEW after the message's insertion time.
CLOCK_SKEW = timedelta(seconds=0.5)
COVER_MARGIN = timedelta(seconds=1) + CLOCK_SKEW


@dataclass(frozen=True)
class Refresh:
    """What a message asks for: a published site whose render began reading after the change the message announces
    was stored (the change is stored before its message is enqueued), and not before `moment` when given."""

    received_at: datetime  # this instance's clock: when the message reached the function
    inserted_at: datetime | None = None  # the queue's clock, whole seconds
    moment: datetime | None = None  # a maintenance start or end the render must not precede

    def covered_by_own(self, read_at: datetime) -> bool:
        """By a render of this instance (same clock as `received_at`)."""
        return self._covered(read_at, self.received_at)

    def covered_by_published(self, read_at: datetime) -> bool:
        """By a render of any instance, as the published index's metadata tells it (another clock, perhaps)."""
        return self._covered(read_at, self.received_at + CLOCK_SKEW)

    def _covered(self, read_at: datetime, received: datetime) -> bool:
        bound = received
        if self.inserted_at is not None:
            bound = min(bound, self.inserted_at + COVER_MARGIN)
        return read_at >= max(bound, self.moment or bound)
