"""What every outbound HTTP client shares (Workflows, Graph, Communication Services): one `requests` session per
thread, and reading a Retry-After header."""

from __future__ import annotations

import email.utils
import re
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests


class ThreadSessions:
    """Sessions keep their connections alive but are not documented thread-safe, and queue functions run on many
    threads. `requests` loads with the first request, off the cold start of functions that never send one."""

    def __init__(self, session: requests.Session | None = None) -> None:
        self._given = session  # a test's (or a caller's) own session, used on every thread
        self._local = threading.local()

    def get(self) -> requests.Session:
        if self._given is not None:
            return self._given
        if not hasattr(self._local, "session"):
            import requests

            self._local.session = requests.Session()
        return self._local.session


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header: delay-seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if re.fullmatch(r"[0-9]{1,9}", text):  # ASCII digits only: "²".isdigit() is true too
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
