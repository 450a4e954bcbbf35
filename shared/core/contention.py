"""Optimistic concurrency: how often, and how patiently, a writer that lost an ETag race tries again.

Twenty responders or a storm of alerts on one incident: each round lets at least one writer through, and a short,
growing random pause spreads the others out instead of having them collide again at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

ATTEMPTS = 40
PAUSE_SECONDS = 0.002


def attempts(limit: int = ATTEMPTS) -> Iterator[int]:
    """Attempt numbers 1…limit, pausing (with jitter) before every retry; the caller gives up after the last."""
    for attempt in range(1, limit + 1):
        if attempt > 1:
            time.sleep(random.uniform(0, PAUSE_SECONDS * attempt))  # noqa: S311 (jitter, not security)
        yield attempt
