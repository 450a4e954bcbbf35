"""A fault-injecting HTTP proxy in front of Azurite's table service: real requests over a socket, real answers,
except the writes the test chooses to fail.

Every request is forwarded to Azurite as it came (method, path, query, headers, body) and Azurite's answer is
returned as it came. Writes (POST, PUT, MERGE, PATCH, DELETE — a `$batch` transaction is one POST) are counted;
`fail_from(k)` lets writes 1…k-1 through and answers every write from the k-th on with the chosen fault until
`heal()`: a 503 Server Busy as Azure Storage sends it, a 4xx, or a timeout (the proxy holds the request longer than
the client waits). A fault that outlasts the SDK's own retries is what the callers must survive.

In front of the queue service, `drop_messages(fraction)` loses messages as a broken output binding or a lost write
would: that share of Put Message requests is answered 201 Created with a well-formed receipt, as Azure Storage
answers, and never forwarded, so the sender believes the message is queued and no consumer ever sees it.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import requests
from werkzeug.wrappers import Request, Response

from tests.standins.local_server import LocalServer

WRITES = {"POST", "PUT", "MERGE", "PATCH", "DELETE"}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}
SERVER_BUSY = (
    '{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US",'
    '"value":"The server is currently unable to receive requests. Please retry your request."}}}'
)

# Put Message: POST /<account>/<queue>/messages (one message id further is Update or Delete Message).
_PUT_MESSAGE = re.compile(r"^/[^/]+/(?P<queue>[a-z0-9-]+)/messages$")
MESSAGE_TTL = timedelta(days=7)  # the queue service's default time-to-live


@dataclass
class FaultPlan:
    kind: str = "503"  # 503 | 409 | timeout
    first: int | None = None  # the first write that fails; None: no faults
    hold_seconds: float = 25.0  # a timeout holds the request longer than the client's read timeout
    failed: list[str] = field(default_factory=list)  # "METHOD path" of every write answered with the fault


class FaultyStorage(LocalServer):
    def __init__(self, upstream: str) -> None:
        super().__init__(self._app, "faulty-storage")
        self.upstream = upstream.rstrip("/")
        self._session = requests.Session()
        self._lock = threading.Lock()
        self.writes = 0
        self.plan = FaultPlan()
        self._drop_share = 0.0
        self._drop_queues: frozenset[str] | None = None
        self._random = random.Random()
        self.dropped: Counter[str] = Counter()  # queue → messages answered 201 and never forwarded
        self.put: Counter[str] = Counter()  # queue → Put Message requests seen (dropped or forwarded)

    def drop_messages(self, share: float, queues: frozenset[str] | None = None, seed: int | None = None) -> None:
        """From now on lose `share` (0…1) of the Put Message requests to `queues` (None: every queue)."""
        with self._lock:
            self._drop_share, self._drop_queues = share, queues
            self._random = random.Random(seed)

    def fail_from(self, write: int, kind: str = "503") -> None:
        """Fail the `write`-th write from now on (counting from 1), and every write after it, until heal()."""
        with self._lock:
            self.writes = 0
            self.plan = FaultPlan(kind=kind, first=write)

    def heal(self) -> list[str]:
        """Stop failing; returns what was failed."""
        with self._lock:
            failed, self.plan = self.plan.failed, FaultPlan()
            return failed

    @property
    def triggered(self) -> bool:
        return bool(self.plan.failed)

    def _dropped(self, request: Request) -> bool:
        put = _PUT_MESSAGE.match(request.path) if request.method == "POST" else None
        if put is None:
            return False
        queue = put["queue"]
        with self._lock:
            self.put[queue] += 1
            chosen = self._drop_queues is None or queue in self._drop_queues
            if not (chosen and self._drop_share and self._random.random() < self._drop_share):
                return False
            self.dropped[queue] += 1
            return True

    def _fault_for(self, request: Request) -> str | None:
        if request.method not in WRITES:
            return None
        with self._lock:
            self.writes += 1
            plan = self.plan
            if plan.first is None or self.writes < plan.first:
                return None
            plan.failed.append(f"{request.method} {request.path}")
            return plan.kind

    def _app(self, environ: dict, start_response: object) -> object:
        request = Request(environ)
        if self._dropped(request):
            return _message_queued(request)(environ, start_response)
        fault = self._fault_for(request)
        if fault == "timeout":
            time.sleep(self.plan.hold_seconds)
            fault = "503"
        if fault == "503":
            response = Response(SERVER_BUSY, status=503, content_type="application/json;odata=minimalmetadata")
            response.headers["x-ms-error-code"] = "ServerBusy"
            return response(environ, start_response)
        if fault == "409":
            conflict = '{"odata.error":{"code":"EntityAlreadyExists","message":{"lang":"en-US","value":"exists"}}}'
            response = Response(conflict, status=409, content_type="application/json;odata=minimalmetadata")
            return response(environ, start_response)
        headers = {name: value for name, value in request.headers.items() if name.lower() not in _HOP_BY_HOP}
        answer = self._session.request(
            request.method,
            self.upstream + (environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path),
            headers=headers,
            data=request.get_data(),
            timeout=30,
            allow_redirects=False,
        )
        passed = {name: value for name, value in answer.headers.items() if name.lower() not in _HOP_BY_HOP}
        return Response(answer.content, status=answer.status_code, headers=passed)(environ, start_response)


def _message_queued(request: Request) -> Response:
    """Put Message's answer (201, a QueueMessagesList) for a message that was never stored."""
    now = datetime.now(UTC).replace(microsecond=0)
    visible = now + timedelta(seconds=int(request.args.get("visibilitytimeout") or 0))
    receipt = uuid.uuid4().hex
    body = (
        '<?xml version="1.0" encoding="utf-8"?><QueueMessagesList><QueueMessage>'
        f"<MessageId>{uuid.uuid4()}</MessageId>"
        f"<InsertionTime>{format_datetime(now, usegmt=True)}</InsertionTime>"
        f"<ExpirationTime>{format_datetime(now + MESSAGE_TTL, usegmt=True)}</ExpirationTime>"
        f"<PopReceipt>{receipt}</PopReceipt>"
        f"<TimeNextVisible>{format_datetime(visible, usegmt=True)}</TimeNextVisible>"
        "</QueueMessage></QueueMessagesList>"
    )
    response = Response(body, status=201, content_type="application/xml")
    response.headers["x-ms-request-id"] = str(uuid.uuid4())
    response.headers["x-ms-version"] = request.headers.get("x-ms-version", "2021-02-12")
    response.headers["Date"] = format_datetime(now, usegmt=True)
    return response
