"""What every stand-in shares: a threaded werkzeug server on a free loopback port, started and stopped around a
test (or used as a context manager)."""

from __future__ import annotations

import threading
from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from devhost.azurite import free_port


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # the test asserts on what arrived; werkzeug's access log is noise


class LocalServer:
    def __init__(
        self, app: Any, name: str, handler: type[WSGIRequestHandler] = QuietHandler, ssl_context: Any = None
    ) -> None:
        # ssl_context: (cert, key) paths for a stand-in that must speak HTTPS (an Entra authority, say)
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", free_port(), app, threaded=True, request_handler=handler, ssl_context=ssl_context
        )
        self.scheme = "https" if ssl_context else "http"
        # A short poll interval: stopping the server waits for it, and every test stops one.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
