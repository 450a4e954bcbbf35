"""Posting cards to a Teams Workflows webhook ("When a Teams webhook request is received").

Workflows throttles each webhook at about 4 requests a second (HTTP 429 with Retry-After), however many instances
send to it. Every request start is taken from a budget per webhook URL that all instances share (shared.teams.budget,
in storage), so all threads of all instances together stay under that rate, and a 429 pauses them all until its
Retry-After has passed.
Cards waiting for the same webhook share a request (shared.teams.coalescing), so a storm's pages are not held to
four a second.
Other failures (5xx, timeouts, connection errors) are retried a few times with jittered exponential backoff inside
the call; then a typed error tells the caller, which defers its queue message through the outage
(shared.core.deferral).
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from shared.core import telemetry
from shared.core.errors import DependencyUnavailable, FirebellError
from shared.core.http_client import ThreadSessions, retry_after_seconds
from shared.core.links import is_web_url
from shared.teams.coalescing import Coalescer

if TYPE_CHECKING:  # requests loads on the first post: ~100 ms of cold start no other function needs
    import requests

log = logging.getLogger("firebell.workflow")

MAX_REQUESTS, PER_SECONDS = 4, 1.05  # "about 4 a second": keep a little margin
# Inside one invocation; longer outages are ridden out by deferring the queue message (shared.core.deferral).
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5  # first retry pause; doubles each time, with up to 50 % jitter
# A longer Retry-After defers the queue message instead (its escalation claims held through the pause): what one
# delivery waits here stays within the hold of the claim it works under (shared.notifications.ledger.CLAIM_HOLD).
MAX_RETRY_AFTER_SECONDS = 10.0
TIMEOUT = (3.05, 10)  # connect, read


class WorkflowError(FirebellError):
    """The card was not delivered."""

    code = "notification_failed"


class WorkflowRejected(WorkflowError):
    """Workflows refused the card (4xx other than 429): sending it again cannot help."""

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.status = status


class WorkflowUnavailable(WorkflowError, DependencyUnavailable):
    """Workflows failed or throttled through every attempt; a later delivery may succeed — not before
    `retry_after` seconds when Workflows said so."""

    code = "notification_failed"

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def wait_to_start(starts: list[float], held_until: float, now: float, max_requests: int, per_seconds: float) -> float:
    """Seconds until a request may start (0: now), given the earlier starts (oldest first) and a 429's pause: the
    rule of every budget, in this process (RequestLimiter) or shared by all instances (shared.teams.budget)."""
    wait = held_until - now
    recent = [start for start in starts if start > now - per_seconds]
    if wait <= 0 and len(recent) >= max_requests:
        wait = recent[len(recent) - max_requests] + per_seconds - now
    return max(0.0, wait)


class RequestLimiter:
    """At most `max_requests` request starts in any `per_seconds` window, across threads (a sliding window) — in
    this process only, whatever the URL: tests, the simulated outages, and the fallback of the shared budget
    (shared.teams.budget) when storage fails.

    `hold_for` pauses every caller (a 429's Retry-After applies to the whole process).
    """

    def __init__(
        self,
        max_requests: int = MAX_REQUESTS,
        per_seconds: float = PER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._starts: collections.deque[float] = collections.deque()
        self._held_until = 0.0

    def acquire(self, url: str = "") -> None:
        """Block until this caller may start a request, then count it."""
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and self._starts[0] <= now - self.per_seconds:
                    self._starts.popleft()
                wait = wait_to_start(list(self._starts), self._held_until, now, self.max_requests, self.per_seconds)
                if wait <= 0:
                    self._starts.append(now)
                    return
            self._sleep(wait)

    def hold_for(self, seconds: float, url: str = "") -> None:
        """Nobody in this process starts a request for `seconds` (the webhook said so with a 429)."""
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + seconds)


class Budget(Protocol):
    """Request starts to a webhook: `acquire(url)` blocks until one may start; `hold_for(seconds, url)` records a
    429's Retry-After."""

    def acquire(self, url: str) -> None: ...

    def hold_for(self, seconds: float, url: str) -> None: ...


PROCESS_LIMITER = RequestLimiter()


class WorkflowSender:
    def __init__(
        self,
        limiter: Budget = PROCESS_LIMITER,
        *,
        attempts: int = ATTEMPTS,
        backoff_seconds: float = BACKOFF_SECONDS,
        max_retry_after: float = MAX_RETRY_AFTER_SECONDS,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.limiter = limiter
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.max_retry_after = max_retry_after
        self._sessions = ThreadSessions(session)
        self._sleep = sleep
        self.timeout = timeout  # (connect, read) seconds of one attempt
        self._coalescer = Coalescer(
            self._attempts, limiter.acquire, lambda failure: isinstance(failure, WorkflowRejected)
        )

    def _client(self) -> requests.Session:
        return self._sessions.get()

    def post(self, url: str, body: bytes) -> None:
        """Deliver one message (the encoded card envelope), perhaps in one request with other messages waiting for
        the same URL (shared.teams.coalescing). Raises WorkflowRejected or WorkflowUnavailable."""
        if not is_web_url(url):
            raise WorkflowRejected("the Workflows URL is not an http(s) URL", 0)
        self._coalescer.post(url, body)

    def _attempts(self, url: str, body: bytes) -> None:
        """Post `body` with retries; its first request slot was taken by the coalescer, every retry takes one."""
        import requests

        problem = "not attempted"
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                self.limiter.acquire(url)
            try:
                answer = self._client().post(
                    url,
                    data=body,
                    headers={"Content-Type": "application/json; charset=utf-8"},
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as error:
                problem = f"{type(error).__name__} reaching Workflows"
                pause = self._backoff(attempt)
            else:
                if 200 <= answer.status_code < 300:
                    return
                problem = f"HTTP {answer.status_code} from Workflows{_reason(answer)}"
                if answer.status_code == 429:
                    telemetry.count(telemetry.CARDS_THROTTLED)
                    pause = retry_after_seconds(answer.headers.get("Retry-After"))
                    if pause is None:
                        pause = self._backoff(attempt)
                    elif pause > self.max_retry_after:
                        too_long = f"{problem}; Retry-After {pause:.0f} s is too long to wait here"
                        raise WorkflowUnavailable(too_long, pause)
                    # Throttling is per webhook, not per thread: everyone sending to it waits (every instance,
                    # with the shared budget).
                    self.limiter.hold_for(pause, url)
                elif 400 <= answer.status_code < 500 and answer.status_code not in (408, 409, 425):
                    raise WorkflowRejected(problem, answer.status_code)
                else:
                    pause = self._backoff(attempt)
            if attempt < self.attempts:
                log.warning("workflow post attempt %d failed (%s); retrying in %.2f s", attempt, problem, pause)
                self._sleep(pause)
        raise WorkflowUnavailable(f"{problem} after {self.attempts} attempts")

    def _backoff(self, attempt: int) -> float:
        base = self.backoff_seconds * 2 ** (attempt - 1)
        return base + random.uniform(0, base / 2)  # noqa: S311 (jitter, not security)


def _reason(answer: Any) -> str:
    text = (answer.text or "").strip().replace("\n", " ")
    return f": {text[:160]}" if text else ""
