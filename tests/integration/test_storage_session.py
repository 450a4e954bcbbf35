"""StorageSession: what the storage SDKs send reaches the server as sent; nothing a storage request never uses
(cookies, redirects) happens behind the pipeline's back; a burst of requests at once keeps its connections."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import pytest
from werkzeug.wrappers import Request, Response

from shared.core.storage_session import POOL_SIZE, StorageSession
from tests.standins.local_server import LocalServer

received: list[dict[str, object]] = []
BURST = 24  # a queue function's messages in flight at most (host.json batchSize 16 plus newBatchThreshold 8)
together = threading.Barrier(BURST, timeout=10)


@Request.application
def _server(request: Request) -> Response:
    received.append(
        {"method": request.method, "path": request.path, "cookie": request.headers.get("Cookie"), "body": request.data}
    )
    if request.path == "/together":
        together.wait()  # every request of the burst is in flight at once
    if request.path == "/moved":
        return Response(status=302, headers={"Location": "/elsewhere"})
    answer = Response(json.dumps({"ok": True}), status=200, mimetype="application/json")
    answer.set_cookie("affinity", "instance-1")
    return answer


@pytest.fixture
def server() -> Iterator[LocalServer]:
    received.clear()
    with LocalServer(_server, "storage-session-server") as running:
        yield running


def test_a_request_arrives_with_its_method_headers_and_body_and_its_answer_is_read(server):
    session = StorageSession()
    answer = session.request(
        "PUT", f"{server.base}/table", headers={"x-ms-version": "2019-02-02"}, data=b'{"a": 1}', timeout=(3, 5)
    )
    assert (answer.status_code, answer.json()) == (200, {"ok": True})
    assert received == [{"method": "PUT", "path": "/table", "cookie": None, "body": b'{"a": 1}'}]


def test_a_cookie_the_server_sets_is_never_sent_back(server):
    session = StorageSession()
    session.request("GET", f"{server.base}/one", timeout=(3, 5))
    session.request("GET", f"{server.base}/two", timeout=(3, 5))
    assert [hit["cookie"] for hit in received] == [None, None]


def test_a_redirect_is_answered_to_the_pipeline_not_followed(server):
    answer = StorageSession().request("GET", f"{server.base}/moved", timeout=(3, 5))
    assert (answer.status_code, answer.headers["Location"]) == (302, "/elsewhere")
    assert [hit["path"] for hit in received] == ["/moved"]
    with pytest.raises(ValueError, match="redirects"):
        StorageSession().request("GET", f"{server.base}/moved", allow_redirects=True)


def test_a_burst_of_requests_at_once_keeps_every_connection_for_the_next(server, caplog):
    session = StorageSession()
    caplog.set_level(logging.WARNING, logger="urllib3.connectionpool")
    answers: list[int] = []

    def one() -> None:
        answers.append(session.request("GET", f"{server.base}/together", timeout=(3, 15)).status_code)

    burst = [threading.Thread(target=one) for _ in range(BURST)]
    for thread in burst:
        thread.start()
    for thread in burst:
        thread.join()
    assert answers == [200] * BURST and BURST <= POOL_SIZE
    # requests' default pool (10) would discard 14 here, and the next burst would open them again.
    assert [record.getMessage() for record in caplog.records if "pool is full" in record.getMessage()] == []
