"""A local HTTP server standing in for Application Insights' ingestion endpoint (the connection string's
`IngestionEndpoint`): the Azure Monitor exporter POSTs `/v2.1/track` with a JSON array of telemetry envelopes
(`Message` for log records, `Metric`, `RemoteDependency`, …), gzip-compressed or not, and reads
`{"itemsReceived", "itemsAccepted", "errors"}` back. Tests read the envelopes it accepted."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.standins.local_server import LocalServer


class IngestionServer(LocalServer):
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._envelopes: list[dict[str, Any]] = []
        super().__init__(self._app, "ingestion-standin")

    def connection_string(self, instrumentation_key: str = "00000000-0000-4000-8000-000000000000") -> str:
        return f"InstrumentationKey={instrumentation_key};IngestionEndpoint={self.base}/"

    def envelopes(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Accepted envelopes, optionally of one base type (`MessageData`, `MetricData`, …)."""
        with self._lock:
            return [e for e in self._envelopes if kind is None or e.get("data", {}).get("baseType") == kind]

    def wait_for(self, found: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not found(list(self._envelopes)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"not received within {timeout} s; got {len(self._envelopes)} envelopes")
                self._lock.wait(remaining)
            return list(self._envelopes)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.method != "POST" or not request.path.endswith("/track"):
            return Response(status=404)(environ, start_response)
        body = request.get_data()
        if request.headers.get("Content-Encoding") == "gzip" or body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        text = body.decode()
        try:
            parsed = json.loads(text)
            items = parsed if isinstance(parsed, list) else [parsed]
        except ValueError:  # newline-delimited JSON
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        with self._lock:
            self._envelopes.extend(items)
            self._lock.notify_all()
        answer = {"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}
        return Response(json.dumps(answer), status=200, mimetype="application/json")(environ, start_response)
