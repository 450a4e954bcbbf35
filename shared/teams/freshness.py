"""Replay: a signed Teams message is acted on only near the moment Teams says it was sent. Pure.

The HMAC proves Teams signed the bytes, not when: anyone who captured a request could send it again later. Teams
stamps every activity (`timestamp`, UTC) inside the signed body, so a message whose own time is further than
MAX_SKEW from our clock — in the past or the future — is refused and changes nothing. Within the window, a second
delivery of the same bytes names the same events (their ids come from the body and its timestamp), so it is
recorded once; a state change it repeats is decided again on the current state like any other command.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.core.timeutil import iso

MAX_SKEW = timedelta(minutes=5)  # Teams delivers in seconds; clocks in Azure are NTP-synchronised


def refusal(sent_at: datetime | None, now: datetime) -> str | None:
    """Why a message sent at `sent_at` is not acted on at `now`; None when it is fresh."""
    if sent_at is None:
        return "This message carries no valid send time, so Firebell did not act on it. Please say it again."
    minutes = int(MAX_SKEW.total_seconds() // 60)
    if sent_at < now - MAX_SKEW:
        return (
            f"This message was sent at {iso(sent_at)}, more than {minutes} minutes ago; Firebell acts only on fresh "
            "messages and did nothing. Please say it again."
        )
    if sent_at > now + MAX_SKEW:
        return (
            f"This message says it was sent at {iso(sent_at)}, more than {minutes} minutes from now; Firebell did "
            "nothing."
        )
    return None
