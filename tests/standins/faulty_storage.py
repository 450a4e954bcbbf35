"""A fault-injecting HTTP proxy in front of Azurite: real requests over a socket, real answers, except the writes the
test chooses to fail.

Every request is forwarded to Azurite as it came (method, path, query, headers, body) and Azurite's answer is
returned as it came. Writes (POST, PUT, MERGE, PATCH, DELETE — a table `$batch` transaction is one POST, a queue
message put is one POST) are counted; `fail_from(k)` lets writes 1…k-1 through and answers every write from the
k-th on with the chosen fault until `heal()`, so the fault outlasts the SDK's own retries:

- `503`: Server Busy as Azure Storage sends it; the write did not happen.
- `403`: AuthorizationFailure (a rotated key, a role assignment still propagating): a 4xx the SDK does not retry;
  the write did not happen.
- `timeout`: the write reaches storage and happens, but its answer never comes back (the connection drops): what a
  client whose read timed out knows — nothing. Its retries meet the write's own effect (409, 412).
- `409`: EntityAlreadyExists without the write happening (kept for callers that ask for it; storage itself never
  answers so for a row that does not exist, so the path tests use `timeout` for realistic conflicts).

`FaultyAccount` puts one proxy in front of each of Azurite's three services (blob, queue, table) with one shared
count, and gives the connection string that goes through them; `fail_from(k, services=...)` counts and fails only
the writes of the services named (the queue puts of an announcement, say).

In front of the queue service, `drop_messages(fraction)` loses messages as a broken output binding or a lost write
would: that share of Put Message requests is answered 201 Created with a well-formed receipt, as Azure Storage
answers, and never forwarded, so the sender believes the message is queued and no consumer ever sees it.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Self

import requests
from werkzeug.wrappers import Request, Response

from tests.standins.local_server import LocalServer, QuietHandler

WRITES = {"POST", "PUT", "MERGE", "PATCH", "DELETE"}
SERVICES = ("blob", "queue", "table")
KINDS = ("503", "403", "timeout", "409")
RAW_HEADERS = "faulty.raw_headers"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}
SERVER_BUSY = (
    '{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US",'
    '"value":"The server is currently unable to receive requests. Please retry your request."}}}'
)
AUTHORIZATION_FAILURE = (
    '{"odata.error":{"code":"AuthorizationFailure","message":{"lang":"en-US",'
    '"value":"This request is not authorized to perform this operation."}}}'
)
ALREADY_EXISTS = '{"odata.error":{"code":"EntityAlreadyExists","message":{"lang":"en-US","value":"exists"}}}'
_ANSWERS = {
    "503": (503, "ServerBusy", SERVER_BUSY),
    "403": (403, "AuthorizationFailure", AUTHORIZATION_FAILURE),
    "409": (409, "EntityAlreadyExists", ALREADY_EXISTS),
}

# Put Message: POST /<account>/<queue>/messages (one message id further is Update or Delete Message).
_PUT_MESSAGE = re.compile(r"^/[^/]+/(?P<queue>[a-z0-9-]+)/messages$")
MESSAGE_TTL = timedelta(days=7)  # the queue service's default time-to-live


@dataclass
class FaultPlan:
    kind: str = "503"  # one of KINDS
    first: int | None = None  # the first write that fails; None: no faults
    services: frozenset[str] = frozenset(SERVICES)  # whose writes are counted and failed
    failed: list[str] = field(default_factory=list)  # "METHOD path" of every write answered with the fault


class Faults:
    """The write count and fault plan that one or several proxies share."""

    def __init__(self) -> None:
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

    def fail_from(self, write: int, kind: str = "503", services: tuple[str, ...] = SERVICES) -> None:
        """Fail the `write`-th write from now on (counting from 1), and every write after it, until heal()."""
        assert kind in KINDS, kind
        with self._lock:
            self.writes = 0
            self.plan = FaultPlan(kind=kind, first=write, services=frozenset(services))

    def count(self, services: tuple[str, ...] = SERVICES) -> None:
        """Count the writes from now on and fail none (how many writes one request makes)."""
        with self._lock:
            self.writes = 0
            self.plan = FaultPlan(services=frozenset(services))

    def heal(self) -> list[str]:
        """Stop failing (counting goes on); returns what was failed."""
        with self._lock:
            failed = self.plan.failed
            self.plan = FaultPlan(services=self.plan.services)
            return failed

    @property
    def triggered(self) -> bool:
        return bool(self.plan.failed)

    def dropped_put(self, request: Request) -> bool:
        """Whether this request is a Put Message to lose (answered as queued, never forwarded)."""
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

    def fault_for(self, service: str, request: Request) -> str | None:
        if request.method not in WRITES:
            return None
        with self._lock:
            plan = self.plan
            if service not in plan.services:
                return None
            self.writes += 1
            if plan.first is None or self.writes < plan.first:
                return None
            plan.failed.append(f"{request.method} {service} {request.path}")
            return plan.kind


class RawHeaders(QuietHandler):
    """Keeps the request's headers as they came: the WSGI environ drops names with underscores (blob metadata such
    as `x-ms-meta-read_at`), and storage signs them."""

    def make_environ(self) -> dict:
        environ = super().make_environ()
        environ[RAW_HEADERS] = list(self.headers.items())
        return environ


class FaultyStorage(LocalServer):
    """One proxy in front of one Azurite service (`upstream`: its base URL, without the account)."""

    def __init__(self, upstream: str, faults: Faults | None = None, service: str = "table") -> None:
        super().__init__(self._app, f"faulty-{service}", RawHeaders)
        self.upstream = upstream.rstrip("/")
        self.service = service
        self.faults = faults or Faults()
        self._session = requests.Session()

    def fail_from(self, write: int, kind: str = "503") -> None:
        self.faults.fail_from(write, kind)

    def heal(self) -> list[str]:
        return self.faults.heal()

    def drop_messages(self, share: float, queues: frozenset[str] | None = None, seed: int | None = None) -> None:
        self.faults.drop_messages(share, queues, seed)

    @property
    def dropped(self) -> Counter[str]:
        return self.faults.dropped

    @property
    def put(self) -> Counter[str]:
        return self.faults.put

    @property
    def writes(self) -> int:
        return self.faults.writes

    @property
    def triggered(self) -> bool:
        return self.faults.triggered

    def _forward(self, environ: dict, request: Request) -> requests.Response:
        raw = environ.get(RAW_HEADERS) or request.headers.items()
        headers = {name: value for name, value in raw if name.lower() not in _HOP_BY_HOP}
        return self._session.request(
            request.method,
            self.upstream + (environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path),
            headers=headers,
            data=request.get_data(),
            timeout=30,
            allow_redirects=False,
        )

    def _app(self, environ: dict, start_response: object) -> object:
        request = Request(environ)
        if self.service == "queue" and self.faults.dropped_put(request):
            return _message_queued(request)(environ, start_response)
        fault = self.faults.fault_for(self.service, request)
        if fault == "timeout":
            self._forward(environ, request)  # it happens in storage …
            connection = environ.get("werkzeug.socket")
            if connection is not None:  # … and its answer is lost on the way back
                connection.shutdown(socket.SHUT_RDWR)
            return Response(b"", status=504)(environ, start_response)
        if fault is not None:
            status, code, body = _ANSWERS[fault]
            if self.service == "table":
                response = Response(body, status=status, content_type="application/json;odata=minimalmetadata")
            else:  # blob and queue errors are XML
                message = json.loads(body)["odata.error"]["message"]["value"]
                xml = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
                xml += "</Error>"
                response = Response(xml, status=status, content_type="application/xml")
            response.headers["x-ms-error-code"] = code
            return response(environ, start_response)
        answer = self._forward(environ, request)
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


def _endpoint(connection_string: str, service: str) -> str:
    name = f"{service.capitalize()}Endpoint="
    return connection_string.split(name)[1].split(";")[0]


class FaultyAccount(Faults):
    """A proxy in front of each of Azurite's services, sharing one count and plan; `connection_string` goes through
    them."""

    def __init__(self, connection_string: str) -> None:
        super().__init__()
        self.upstream = connection_string
        self.proxies = {
            service: FaultyStorage(_endpoint(connection_string, service).rsplit("/", 1)[0], self, service)
            for service in SERVICES
        }

    @property
    def connection_string(self) -> str:
        proxied = self.upstream
        for service, proxy in self.proxies.items():
            endpoint = _endpoint(self.upstream, service)
            proxied = proxied.replace(endpoint, f"{proxy.base}/{endpoint.rsplit('/', 1)[1]}")
        return proxied

    def __enter__(self) -> Self:
        for proxy in self.proxies.values():
            proxy.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for proxy in self.proxies.values():
            proxy.stop()
