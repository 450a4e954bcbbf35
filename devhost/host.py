"""The devhost: HTTP server, queue listeners and timers over one FunctionApp, started and stopped together."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import azure.functions as func
from azure.core.exceptions import AzureError
from werkzeug.serving import BaseWSGIServer, make_server

from devhost.catalog import by_trigger, discover
from devhost.grouping import Group
from devhost.hostjson import HostOptions, load_host_options
from devhost.http import HttpServer
from devhost.invoker import Invoker
from devhost.queues import QueueListener
from devhost.timers import LOCKS, TimerLock, TimerRunner, lock_name
from shared.core.errors import ConfigurationError

log = logging.getLogger("devhost")


class StorageUnreachable(RuntimeError):
    pass


class StorageNotSet(RuntimeError):
    """No storage setting (neither a connection string nor identity-based settings): the host does not start."""


class DevHost:
    """`serve_http` and `run_background` split the host in two, as `python -m devhost` does by default: HTTP in one
    process, queue listeners and timers in another, so the consumers never queue the HTTP handlers behind one
    interpreter lock — as Azure runs HTTP and queue functions on instances of their own when they scale apart
    (README, "Instances"). `listen_fd`: serve on a listening socket another process opened (`--instances`).
    `group`: the queue and timer functions this process runs (devhost.grouping; default all)."""

    def __init__(
        self,
        app: func.FunctionApp,
        host_json: Path,
        address: str = "127.0.0.1",
        port: int = 7071,
        *,
        serve_http: bool = True,
        run_background: bool = True,
        listen_fd: int | None = None,
        group: Group | None = None,
    ) -> None:
        self.options: HostOptions = load_host_options(host_json)
        specs = discover(app)
        background = [spec for spec in specs if run_background and (group is None or group.runs(spec.name))]
        self.invoker = Invoker(self.options.queues.message_encoding)
        try:  # as the Functions host does: without its storage it does not start (nothing is fetched yet)
            self.invoker.account()
        except ConfigurationError as error:
            raise StorageNotSet(f"{error.detail} (in local.settings.json or the environment)") from None
        self.stopping = threading.Event()
        self.http_app = HttpServer(by_trigger(specs, "httpTrigger"), self.invoker, self.options.route_prefix)
        self.server: BaseWSGIServer | None = (
            make_server(address, port, self.http_app, threaded=True, fd=listen_fd) if serve_http else None
        )
        timer_specs = by_trigger(background, "timerTrigger")
        try:
            self.listeners = [
                QueueListener(spec, self.invoker, self.options.queues, self.stopping, self.options.function_timeout)
                for spec in by_trigger(background, "queueTrigger")
            ]
            locks = self.invoker.account().container(LOCKS) if timer_specs else None
        except AzureError as error:
            if self.server is not None:
                self.server.server_close()
            raise StorageUnreachable(
                f"cannot reach Azure Storage ({type(error).__name__}): start Azurite (`make run` does) or fix "
                "AzureWebJobsStorage (or its AzureWebJobsStorage__* identity settings) in local.settings.json"
            ) from None
        self.timers = [
            TimerRunner(spec, self.invoker, self.stopping, TimerLock(locks.get_blob_client(lock_name(spec.name))))
            for spec in timer_specs
            if locks is not None
        ]
        self._serving = (
            threading.Thread(target=self.server.serve_forever, name="http", daemon=True) if self.server else None
        )

    @property
    def url(self) -> str:
        if self.server is None:
            return ""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> DevHost:
        for worker in [*self.listeners, *self.timers]:
            worker.start()
        if self._serving is not None:
            self._serving.start()
        log.info(
            "devhost %s (%d queue listeners, %d timers)",
            f"listening on {self.url}" if self.url else "running background functions",
            len(self.listeners),
            len(self.timers),
        )
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None and self._serving is not None:
            self.server.shutdown()
            self._serving.join()
            self.server.server_close()
        for worker in [*self.listeners, *self.timers]:
            worker.join()
