"""A delivery's own work on an escalation step ends before its claim's hold runs out, so the sweeper (or a
duplicate) takes a step over only from a claimant that died, never from one still waiting on Workflows."""

from __future__ import annotations

from datetime import timedelta

from shared.notifications.ledger import CLAIM_HOLD
from shared.teams.workflow import ATTEMPTS, BACKOFF_SECONDS, MAX_RETRY_AFTER_SECONDS, TIMEOUT


def test_the_longest_card_post_ends_within_the_claims_hold():
    connect, read = TIMEOUT
    timed_out = connect + read  # an attempt that got no answer; a 429 answers at once, then its Retry-After is waited
    backoffs = [BACKOFF_SECONDS * 2 ** (attempt - 1) * 1.5 for attempt in range(1, ATTEMPTS)]  # with full jitter
    longest_post = sum(max(timed_out + backoff, MAX_RETRY_AFTER_SECONDS) for backoff in backoffs) + timed_out
    assert timedelta(seconds=longest_post) < CLAIM_HOLD
