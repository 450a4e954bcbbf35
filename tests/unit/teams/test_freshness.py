"""Replay: a signed Teams message counts only within five minutes of its own send time, either way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.teams.freshness import MAX_SKEW, refusal

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize("sent_at", [NOW, NOW - MAX_SKEW, NOW + MAX_SKEW, NOW - timedelta(seconds=3)])
def test_a_message_within_the_window_is_fresh(sent_at):
    assert refusal(sent_at, NOW) is None


def test_a_message_older_than_the_window_is_refused_saying_when_it_was_sent():
    assert refusal(NOW - MAX_SKEW - SECOND, NOW) == (
        "This message was sent at 2026-12-06T11:54:59.000Z, more than 5 minutes ago; Firebell acts only on fresh "
        "messages and did nothing. Please say it again."
    )


def test_a_message_from_the_future_or_without_a_send_time_is_refused():
    assert "more than 5 minutes from now" in refusal(NOW + MAX_SKEW + SECOND, NOW)
    assert refusal(None, NOW).startswith("This message carries no valid send time")
