"""A local HTTP server standing in for a Teams Workflows webhook ("When a Teams webhook request is received").

It speaks the webhook's protocol: POST a JSON `message` envelope holding Adaptive Card attachments, answered 202
Accepted; a body over 28 KB is refused (413), a malformed one gets 400. Like the "Send webhook alerts to a
channel" template, which posts each attachment as its own card, the channel shows one card per attachment. Tests
script failures for the next requests — 429 with Retry-After, 500 — and read back every request with its arrival
time (monotonic clock), so a test can check the gap between attempts without timing itself. `down()` … `up()` is
an outage of any length; with `hang` each request of the outage is held that long before its answer (a client with
a shorter read timeout sees a timeout). `hold()` … `release()` holds every request until the test lets it go, so
a test can look at the world while a card is at Workflows and not yet accepted (`wait_for_held`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.standins.local_server import LocalServer

MAX_BYTES = 28 * 1024


@dataclass(frozen=True)
class Received:
    path: str
    arrived: float  # time.monotonic() when the request arrived
    body: bytes
    status: int  # what the stand-in answered
    headers: dict[str, str] = field(default_factory=dict)
    hung: bool = False  # the answer was held back (`down(hang=…)`): the client may have stopped waiting

    @property
    def message(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def card(self) -> dict[str, Any]:
        (attachment,) = self.message["attachments"]
        return attachment["content"]

    def one_per_card(self) -> list[Received]:
        """This request as the channel shows it: one card per attachment, each as if it had come alone."""
        attachments = self.message["attachments"]
        if len(attachments) == 1:
            return [self]
        return [
            replace(self, body=json.dumps({"type": "message", "attachments": [attachment]}).encode())
            for attachment in attachments
        ]


@dataclass(frozen=True)
class Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    hang: float = 0.0  # seconds before the answer


class WorkflowServer(LocalServer):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._script: deque[Scripted] = deque()
        self._outage: Scripted | None = None
        self._arrival = threading.Condition(self._lock)
        self._open = threading.Event()  # cleared by hold(): requests wait until release()
        self._open.set()
        self._held = 0  # requests that have waited at the gate
        super().__init__(self._app, "workflow-standin")

    @property
    def url(self) -> str:
        return f"{self.base}/workflows/channel"

    def url_for(self, channel: str) -> str:
        return self.url.rsplit("/", 1)[0] + f"/{channel}"

    # --- scripting and reading back ---------------------------------------------------------------------------------
    def fail_next(self, status: int, retry_after: str | None = None, times: int = 1, body: str = "") -> None:
        """The next `times` requests are answered `status` (with a Retry-After header when given)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self._lock:
            self._script.extend(Scripted(status, headers, body) for _ in range(times))

    def clear(self) -> None:
        """Forget what arrived (a test that runs several scenarios against one stand-in)."""
        with self._lock:
            self._received.clear()
            self._script.clear()
        self._open.set()

    def down(self, status: int = 503, body: str = "", hang: float = 0.0) -> None:
        """Every request is answered `status` until `up()`: an outage as long as the test's own clock says. With
        `hang`, each answer comes that many seconds late (a timeout, for a client that waits less)."""
        with self._lock:
            self._outage = Scripted(status, {}, body, hang)

    def up(self) -> None:
        with self._lock:
            self._outage = None

    def hold(self) -> None:
        with self._lock:
            self._held = 0
            self._open.clear()

    def release(self) -> None:
        self._open.set()

    def wait_for_held(self, count: int = 1, timeout: float = 15.0) -> None:
        """Block until `count` requests are waiting at the gate `hold()` closed; AssertionError otherwise."""
        with self._arrival:
            if not self._arrival.wait_for(lambda: self._held >= count, timeout):
                raise AssertionError(f"{self._held} of {count} requests held within {timeout} s")

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def delivered(self, path: str | None = None) -> list[Received]:
        """The cards the channel shows: each attachment of a request answered 2xx, as a request of its own
        (optionally only those posted to one channel path)."""
        accepted = [r for r in self.requests() if 200 <= r.status < 300 and (path is None or r.path == path)]
        return [card for received in accepted for card in received.one_per_card()]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Block until `count` cards were delivered; AssertionError otherwise."""
        deadline = time.monotonic() + timeout
        with self._arrival:
            while True:
                delivered = [card for r in self._received if 200 <= r.status < 300 for card in r.one_per_card()]
                if len(delivered) >= count:
                    return delivered
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(delivered)} of {count} cards delivered within {timeout} s")
                self._arrival.wait(remaining)

    def wait_for_requests(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Block until `count` requests arrived, whatever they were answered; AssertionError otherwise."""
        with self._arrival:
            if not self._arrival.wait_for(lambda: len(self._received) >= count, timeout):
                raise AssertionError(f"{len(self._received)} of {count} requests within {timeout} s")
            return list(self._received)

    # --- the webhook ------------------------------------------------------------------------------------------------
    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        arrived = time.monotonic()
        body = request.get_data()
        scripted = None
        if request.method == "POST":
            with self._lock:
                scripted = self._script.popleft() if self._script else self._outage
        if scripted is not None and scripted.hang:
            time.sleep(scripted.hang)
        if request.method == "POST" and not self._open.is_set():
            with self._arrival:
                self._held += 1
                self._arrival.notify_all()
            self._open.wait(timeout=60)  # a test that never releases must not hang the server for ever
        response = self._answer(request, body, scripted)
        received = Received(
            request.path, arrived, body, response.status_code, dict(request.headers), bool(scripted and scripted.hang)
        )
        with self._arrival:
            self._received.append(received)
            self._arrival.notify_all()
        return response(environ, start_response)

    def _answer(self, request: Request, body: bytes, scripted: Scripted | None) -> Response:
        if request.method != "POST":
            return Response("method not allowed", status=405)
        if scripted is not None:
            return Response(scripted.body, status=scripted.status, headers=scripted.headers)
        if len(body) > MAX_BYTES:
            return Response("request entity too large", status=413)
        problem = _envelope_problem(body)
        if problem:
            return Response(problem, status=400)
        return Response("", status=202)


def _envelope_problem(body: bytes) -> str | None:
    try:
        message = json.loads(body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(message, dict) or message.get("type") != "message":
        return "expected a message"
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "expected attachments"
    for attachment in attachments:
        if (
            not isinstance(attachment, dict)
            or attachment.get("contentType") != "application/vnd.microsoft.card.adaptive"
        ):
            return "expected an Adaptive Card attachment"
        content = attachment.get("content")
        if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
            return "expected an AdaptiveCard"
    return None
