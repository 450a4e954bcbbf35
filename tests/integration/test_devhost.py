"""The devhost runs a FunctionApp's own triggers and bindings against Azurite, as the Functions host would."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest
import requests
from azure.storage.blob import ContentSettings

from devhost.azurite import free_port
from devhost.catalog import FunctionSpec
from devhost.grouping import Group
from devhost.host import DevHost
from devhost.hostjson import QueueOptions
from devhost.process import DevhostProcess
from devhost.queues import QueueListener
from tests.conftest import ROOT, wait_until

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
attempts: list[int] = []
processed: list[bytes] = []
ticks: list[bool] = []


@app.function_name("always_fails")
@app.queue_trigger(arg_name="message", queue_name="doomed", connection="AzureWebJobsStorage")
def always_fails(message: func.QueueMessage) -> None:
    attempts.append(message.dequeue_count)
    raise RuntimeError("this handler never succeeds")


@app.function_name("copy_to_blob")
@app.queue_trigger(arg_name="message", queue_name="work", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="copy", path="copies/latest.txt", connection="AzureWebJobsStorage")
def copy_to_blob(message: func.QueueMessage, copy: func.Out[str]) -> None:
    processed.append(message.get_body())
    copy.set(message.get_body().decode().upper())


@app.function_name("enqueue")
@app.route(route="things/{name}", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="work", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(f"{req.route_params['name']}:{req.get_body().decode()}")
    return func.HttpResponse(
        json.dumps({"queued": req.route_params["name"]}), status_code=202, mimetype="application/json"
    )


@app.function_name("outbox")
@app.route(route="outbox", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="outbox", connection="AzureWebJobsStorage")
def outbox(req: func.HttpRequest, out: func.Out[str]) -> None:
    out.set(req.get_body().decode())


@app.function_name("open")
@app.route(route="open", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def open_route(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"hello {req.params.get('who', 'world')}", headers={"X-Extra": "1"})


@app.function_name("every_second")
@app.timer_trigger(arg_name="timer", schedule="* * * * * *")
def every_second(timer: func.TimerRequest) -> None:
    ticks.append(timer.past_due)


HOST_JSON = {
    "version": "2.0",
    "extensions": {
        "queues": {
            "batchSize": 4,
            "maxDequeueCount": 3,
            "visibilityTimeout": "00:00:00",
            "maxPollingInterval": "00:00:00.2",
            "messageEncoding": "base64",
        }
    },
}


@pytest.fixture
def host(storage_account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DevHost]:
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", "test-key")
    (tmp_path / "host.json").write_text(json.dumps(HOST_JSON))
    for record in (attempts, processed, ticks):
        record.clear()
    devhost = DevHost(app, tmp_path / "host.json", port=free_port()).start()
    try:
        yield devhost
    finally:
        devhost.stop()


def test_a_message_that_always_fails_lands_in_the_poison_queue_after_max_dequeue_count(host, storage_account):
    storage_account.queue("doomed").send_message("payload that breaks the handler")
    poison = storage_account.queue("doomed-poison")
    (message,) = wait_until(lambda: list(poison.peek_messages()))
    assert message.content == "payload that breaks the handler"
    assert attempts == [1, 2, 3]
    assert list(storage_account.queue("doomed").peek_messages()) == []


def test_a_message_that_is_not_base64_goes_to_poison_without_running_the_function(host, storage_account):
    storage_account.queue("doomed", encoding="none").send_message("%%% not base64 %%%")
    wait_until(lambda: list(storage_account.queue("doomed-poison", encoding="none").peek_messages()))
    assert attempts == []


def test_http_route_params_queue_output_queue_trigger_and_blob_output(host, storage_account):
    response = requests.post(
        f"{host.url}/api/things/widget", data=b"blue", headers={"x-functions-key": "test-key"}, timeout=10
    )
    assert (response.status_code, response.json()) == (202, {"queued": "widget"})
    wait_until(lambda: processed)
    assert processed == [b"widget:blue"]
    blob = storage_account.container("copies").get_blob_client("latest.txt")
    assert wait_until(lambda: blob.exists())
    assert blob.download_blob().readall() == b"WIDGET:BLUE"


def test_queue_output_uses_the_host_json_message_encoding(host, storage_account):
    response = requests.post(f"{host.url}/api/outbox", data="ünïcode", params={"code": "test-key"}, timeout=10)
    assert response.status_code == 204
    (message,) = storage_account.queue("outbox", encoding="none").peek_messages()
    assert base64.b64decode(message.content).decode() == "ünïcode"


def test_function_keys_are_required_where_the_auth_level_is_function(host):
    url = f"{host.url}/api/things/x"
    assert requests.post(url, timeout=10).status_code == 401
    assert requests.post(url, headers={"x-functions-key": "wrong"}, timeout=10).status_code == 401
    denied = requests.post(url, params={"code": "wrong"}, timeout=10)
    assert denied.status_code == 401 and denied.json()["error"] == "unauthorized"
    assert requests.post(url, params={"code": "test-key"}, timeout=10).status_code == 202


def test_anonymous_routes_methods_and_unknown_paths(host):
    response = requests.get(f"{host.url}/api/open", params={"who": "sre"}, timeout=10)
    assert (response.status_code, response.text, response.headers["X-Extra"]) == (200, "hello sre", "1")
    assert requests.post(f"{host.url}/api/open", timeout=10).status_code == 405
    missing = requests.get(f"{host.url}/api/nothing-here", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_timer_triggers_fire_on_their_ncrontab_schedule(host):
    wait_until(lambda: len(ticks) >= 2, timeout=5)
    assert ticks[:2] == [False, False]


def test_the_status_path_serves_the_web_container_like_the_static_website(host, storage_account):
    web = storage_account.container("$web")
    web.upload_blob(
        "index.html",
        b"<h1>ok</h1>",
        content_settings=ContentSettings(content_type="text/html; charset=utf-8", cache_control="public, max-age=30"),
    )
    web.upload_blob("api/v2/status.json", b"{}", content_settings=ContentSettings(content_type="application/json"))
    for path in ("/status", "/status/"):
        page = requests.get(f"{host.url}{path}", timeout=10)
        assert (page.status_code, page.text, page.headers["Content-Type"], page.headers["Cache-Control"]) == (
            200,
            "<h1>ok</h1>",
            "text/html; charset=utf-8",
            "public, max-age=30",
        )
    again = requests.get(f"{host.url}/status/", headers={"If-None-Match": page.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    api = requests.get(f"{host.url}/status/api/v2/status.json", timeout=10)
    assert (api.status_code, api.headers["Content-Type"]) == (200, "application/json")
    assert requests.get(f"{host.url}/status/missing.html", timeout=10).status_code == 404


def test_stopping_the_host_ends_its_threads(storage_account, tmp_path: Path):
    (tmp_path / "host.json").write_text(json.dumps(HOST_JSON))
    devhost = DevHost(app, tmp_path / "host.json", port=free_port()).start()
    devhost.stop()
    alive = [t.name for t in threading.enumerate() if t.name.startswith(("listener-", "timer-", "http"))]
    assert alive == []


class _Recording:
    """An invoker that records which messages ran, holding the one whose body is `slow` until released."""

    def __init__(self, account: object) -> None:
        self._account = account
        self.release = threading.Event()
        self.ran: list[str] = []

    def account(self, connection_setting: str) -> object:
        return self._account

    def invoke(self, spec: FunctionSpec, message: func.QueueMessage) -> None:
        body = message.get_body().decode()
        if body == "slow":
            assert self.release.wait(30), "never released"
        self.ran.append(body)


def test_a_slow_message_does_not_hold_up_the_queue_behind_it(storage_account):
    """As the Functions host does: more messages are fetched once no more than newBatchThreshold are running."""
    queue = storage_account.queue("work", encoding="none")
    for body in ["slow", "a", "b", "c", "d"]:
        queue.send_message(body)
    invoker = _Recording(storage_account)
    spec = FunctionSpec("work", lambda message: None, {"type": "queueTrigger", "name": "message", "queueName": "work"})
    options = QueueOptions(batch_size=2, new_batch_threshold=1, max_polling_interval=0.2, message_encoding="none")
    stopping = threading.Event()
    listener = QueueListener(spec, invoker, options, stopping, lease_seconds=60)
    listener.start()
    try:
        wait_until(lambda: len(invoker.ran) == 4)
        assert sorted(invoker.ran) == ["a", "b", "c", "d"]  # while the first batch's slow message still runs
        invoker.release.set()
        wait_until(lambda: len(invoker.ran) == 5)
        assert invoker.ran[-1] == "slow"
    finally:
        invoker.release.set()
        stopping.set()
        listener.join()
    assert storage_account.message_count("work") == 0


def test_a_background_process_runs_only_the_queue_and_timer_functions_of_its_group(storage_account, tmp_path: Path):
    (tmp_path / "host.json").write_text(json.dumps(HOST_JSON))
    own = Group("copy_to_blob-1", only=frozenset({"copy_to_blob"}))
    rest = Group("background-1", besides=frozenset({"copy_to_blob"}))
    for group, listening, timed in ((own, ["copy_to_blob"], []), (rest, ["always_fails"], ["every_second"])):
        devhost = DevHost(app, tmp_path / "host.json", serve_http=False, group=group)
        assert [listener.spec.name for listener in devhost.listeners] == listening
        assert [timer.spec.name for timer in devhost.timers] == timed


def test_python_m_devhost_runs_the_paging_path_in_a_background_process_of_its_own(azurite):
    """Flex Consumption scales each queue function on its own instances: the paging path (notifications,
    escalations, contacts, the sweeper) never waits behind the status page's renders for a worker or the
    interpreter lock."""
    log = DevhostProcess(azurite.connection_string, {"FIREBELL_CONFIG_DIR": str(ROOT / "config")}).start().stop()
    started = dict(re.findall(r"devhost\[([\w-]+)\] INFO devhost running background functions \((\d+) queue", log))
    queue_functions = int(started["background-1"]) + int(started["paging-1"])
    assert (started["paging-1"], set(started)) == ("3", {"background-1", "paging-1"})
    assert queue_functions == 8  # every queue function runs, each in one process
    assert "(processes: http-1, background-1, paging-1)" in log

    refused = subprocess.run(
        [sys.executable, "-m", "devhost", "--own-process", "alerts", "--settings", "/dev/null"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "--own-process: no queue or timer function named alerts" in refused.stderr
