"""Call a function with its trigger value and output bindings, write the outputs, log one line per invocation."""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from typing import Any

import azure.functions as func

from devhost.catalog import FunctionSpec, resolve_setting
from shared.core.storage import STORAGE_SETTING, StorageAccount, StorageTarget

log = logging.getLogger("devhost")


class OutputValue(func.Out):
    """What the Functions worker hands a function for an output binding."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


def encode_queue_message(content: str | bytes, encoding: str) -> str:
    raw = content.encode() if isinstance(content, str) else content
    return base64.b64encode(raw).decode() if encoding == "base64" else raw.decode()


class Invoker:
    def __init__(self, message_encoding: str) -> None:
        self.message_encoding = message_encoding
        self._accounts: dict[str, StorageAccount] = {}
        self._lock = threading.Lock()

    def account(self, connection_setting: str = STORAGE_SETTING) -> StorageAccount:
        """The storage account a binding's `connection` names: a connection string in that setting, or the
        identity-based `<setting>__*` settings (StorageNotConfigured, a ConfigurationError, when neither is set)."""
        with self._lock:
            if connection_setting not in self._accounts:
                self._accounts[connection_setting] = StorageAccount(
                    StorageTarget.from_environment(None, connection_setting)
                )
            return self._accounts[connection_setting]

    def invoke(self, spec: FunctionSpec, trigger_value: Any) -> Any:
        outputs = {binding["name"]: OutputValue() for binding in spec.outputs}
        started = time.perf_counter()
        outcome = "failed"
        result: Any = None
        try:
            result = spec.handler(**{spec.trigger["name"]: trigger_value}, **outputs)
            for binding in spec.outputs:
                self._write_output(binding, outputs[binding["name"]].get())
            outcome = "succeeded"
            return result
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            status = f" status={result.status_code}" if isinstance(result, func.HttpResponse) else ""
            log.info(
                "function=%s trigger=%s duration_ms=%.1f outcome=%s%s",
                spec.name,
                spec.trigger_type,
                elapsed,
                outcome,
                status,
            )

    def _write_output(self, binding: dict[str, Any], value: Any) -> None:
        if value is None:
            return
        account = self.account(binding.get("connection") or STORAGE_SETTING)
        if binding["type"] == "queue":
            queue = account.queue(resolve_setting(binding["queueName"]), encoding="none")
            for message in value if isinstance(value, list) else [value]:
                queue.send_message(encode_queue_message(message, self.message_encoding))
        elif binding["type"] == "blob":
            path = resolve_setting(binding["path"]).replace("{rand-guid}", str(uuid.uuid4()))
            container, name = path.split("/", 1)
            account.container(container).upload_blob(name, value, overwrite=True)
        else:
            raise NotImplementedError(f"the devhost does not write {binding['type']!r} output bindings")
