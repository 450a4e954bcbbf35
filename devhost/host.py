"""The devhost: HTTP server, queue listeners and timers over one FunctionApp, started and stopped together."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import azure.functions as func
from azure.core.exceptions import AzureError
from werkzeug.serving import BaseWSGIServer, make_server

from devhost.catalog import by_trigger, discover
from devhost.hostjson import HostOptions, load_host_options
from devhost.http import HttpServer
from devhost.invoker import Invoker
from devhost.queues import QueueListener
from devhost.timers import TimerRunner

log = logging.getLogger("devhost")


class StorageUnreachable(RuntimeError):
    pass


class DevHost:
    def __init__(self, app: func.FunctionApp, host_json: Path, address: str = "127.0.0.1", port: int = 7071) -> None:
        self.options: HostOptions = load_host_options(host_json)
        specs = discover(app)
        self.invoker = Invoker(self.options.queues.message_encoding)
        self.stopping = threading.Event()
        self.http_app = HttpServer(by_trigger(specs, "httpTrigger"), self.invoker, self.options.route_prefix)
        self.server: BaseWSGIServer = make_server(address, port, self.http_app, threaded=True)
        try:
            self.listeners = [
                QueueListener(spec, self.invoker, self.options.queues, self.stopping, self.options.function_timeout)
                for spec in by_trigger(specs, "queueTrigger")
            ]
        except AzureError as error:
            self.server.server_close()
            raise StorageUnreachable(
                f"cannot reach Azure Storage ({type(error).__name__}): start Azurite (`make run` does) or fix "
                "AzureWebJobsStorage in local.settings.json"
            ) from None
        self.timers = [TimerRunner(spec, self.invoker, self.stopping) for spec in by_trigger(specs, "timerTrigger")]
        self._serving = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> DevHost:
        for worker in [*self.listeners, *self.timers]:
            worker.start()
        self._serving.start()
        log.info(
            "devhost listening on %s (%d queue listeners, %d timers)", self.url, len(self.listeners), len(self.timers)
        )
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self._serving.join()
        self.server.server_close()
        for worker in [*self.listeners, *self.timers]:
            worker.join()
