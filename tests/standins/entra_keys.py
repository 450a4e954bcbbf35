"""A local stand-in for an Entra ID tenant's published signing keys (https://login.microsoftonline.com/<tenant>/
discovery/v2.0/keys): a JWKS on a real socket that counts its requests; tests change what it answers between calls,
make it hold every answer (a fetch in flight they control, or an endpoint that never answers in time) or stop it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def jwk(private_key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    """The public half as Entra ID publishes it in discovery/v2.0/keys."""
    return {**RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True), "kid": kid, "use": "sig"}


class KeyServer:
    """Serves a JWKS on a real socket, counts requests; tests change what it answers between calls.

    `hold()` makes every request wait, unanswered, until `release()` (or `stop()`): a fetch in flight that the test
    controls, or (never released) an endpoint that does not answer within the client's timeout.
    """

    def __init__(self, keys: list[dict[str, Any]], path: str = "/discovery/v2.0/keys") -> None:
        self.keys = list(keys)
        self.status = 200
        self.body: bytes | None = None  # when set, served instead of the key set
        self.requests = 0
        self._counting = threading.Lock()
        self._gate: threading.Event | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._counting:
                    server.requests += 1
                gate = server._gate
                if gate is not None:
                    gate.wait()
                body = server.body if server.body is not None else json.dumps({"keys": server.keys}).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a held answer written after the client gave up: nobody is listening any more

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_port}{path}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self._stopped = False

    def hold(self) -> None:
        self._gate = threading.Event()

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    def stop(self) -> None:
        self.release()
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
