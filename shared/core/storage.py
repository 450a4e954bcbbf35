"""One Azure Storage account: lazily created table, queue and blob clients that share its connection string."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient

if TYPE_CHECKING:  # the blob and queue SDKs load on first use: the alert path needs neither (~140 ms of cold start)
    from azure.storage.blob import BlobServiceClient, ContainerClient
    from azure.storage.queue import QueueClient

# Azurite's published development account (not a secret: it is in every Azure Storage SDK and emulator).
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def development_storage(host: str = "127.0.0.1", blob: int = 10000, queue: int = 10001, table: int = 10002) -> str:
    base = f"http://{host}:{{port}}/devstoreaccount1"
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={DEV_ACCOUNT_KEY};"
        f"BlobEndpoint={base.format(port=blob)};QueueEndpoint={base.format(port=queue)};"
        f"TableEndpoint={base.format(port=table)};"
    )


def expand_connection_string(value: str) -> str:
    """The SDKs do not all understand the `UseDevelopmentStorage=true` shorthand that Functions settings use."""
    return development_storage() if value.strip().rstrip(";").lower() == "usedevelopmentstorage=true" else value


# Fail fast when storage is down: the HTTP edge answers 503 and the caller (Azure Monitor, a queue) retries.
# Tables use azure-core's retry options; blob and queue clients take a storage retry policy (default: 15 s backoff).
_TIMEOUTS: dict[str, Any] = {"connection_timeout": 3, "read_timeout": 20}
_TABLE_RETRY: dict[str, Any] = {"retry_total": 2, "retry_backoff_factor": 0.2}


def _blob_retry() -> Any:
    from azure.storage.blob import LinearRetry

    return LinearRetry(backoff=0.3, random_jitter_range=0.2, retry_total=2)


def _queue_retry() -> Any:
    from azure.storage.queue import LinearRetry

    return LinearRetry(backoff=0.3, random_jitter_range=0.2, retry_total=2)


class StorageAccount:
    def __init__(self, connection_string: str, on_request: Callable[[Any], None] | None = None) -> None:
        """`on_request` sees every request on the wire (azure-core's raw_request_hook): benchmarks count with it."""
        self.connection_string = expand_connection_string(connection_string)
        self._options: dict[str, Any] = dict(_TIMEOUTS)
        if on_request is not None:
            self._options["raw_request_hook"] = on_request
        self._lock = threading.Lock()
        self._tables: dict[str, TableClient] = {}
        self._queues: dict[tuple[str, str], QueueClient] = {}
        self._containers: dict[str, ContainerClient] = {}

    @functools.cached_property
    def table_service(self) -> TableServiceClient:
        return TableServiceClient.from_connection_string(self.connection_string, **self._options, **_TABLE_RETRY)

    @functools.cached_property
    def blob_service(self) -> BlobServiceClient:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(
            self.connection_string, retry_policy=_blob_retry(), **self._options
        )

    def table(self, name: str) -> TableClient:
        """A table client; the table is created once per process, on first use."""
        with self._lock:
            if name not in self._tables:
                _create_quietly(lambda: self.table_service.create_table(name))
                self._tables[name] = self.table_service.get_table_client(name)
            return self._tables[name]

    def queue(self, name: str, encoding: str = "base64") -> QueueClient:
        """A queue client whose messages use the Functions host's encoding (host.json `messageEncoding`)."""
        from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

        with self._lock:
            if (name, encoding) not in self._queues:
                codec: dict[str, Any] = {}
                if encoding == "base64":
                    codec = {
                        "message_encode_policy": TextBase64EncodePolicy(),
                        "message_decode_policy": TextBase64DecodePolicy(),
                    }
                client = QueueClient.from_connection_string(
                    self.connection_string, name, retry_policy=_queue_retry(), **codec, **self._options
                )
                _create_quietly(client.create_queue)
                self._queues[(name, encoding)] = client
            return self._queues[(name, encoding)]

    def message_count(self, name: str) -> int:
        """The queue's approximate message count (one properties request); 0 for a queue that does not exist. Never
        creates the queue, unlike `queue()`."""
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.queue import QueueClient

        client = QueueClient.from_connection_string(
            self.connection_string, name, retry_policy=_queue_retry(), **self._options
        )
        try:
            return client.get_queue_properties().approximate_message_count or 0
        except ResourceNotFoundError:
            return 0

    def container(self, name: str) -> ContainerClient:
        with self._lock:
            if name not in self._containers:
                client = self.blob_service.get_container_client(name)
                _create_quietly(client.create_container)
                self._containers[name] = client
            return self._containers[name]


# What a transaction that lost an optimistic-concurrency race fails with; anything else is not ours to retry.
_LOST_RACE = {"EntityAlreadyExists", "UpdateConditionNotSatisfied"}


def lost_race(failure: Exception) -> bool:
    """True when a table transaction failed because another writer got there first (retry with fresh state)."""
    return str(getattr(failure, "error_code", "")) in _LOST_RACE


def _create_quietly(create: Any) -> None:
    with contextlib.suppress(ResourceExistsError):
        create()


@functools.cache
def _account_for(connection_string: str) -> StorageAccount:
    return StorageAccount(connection_string)


def account() -> StorageAccount:
    """The account named by `AzureWebJobsStorage`, shared by every function in this process."""
    return _account_for(os.environ.get("AzureWebJobsStorage", "UseDevelopmentStorage=true"))


def reset() -> None:
    """Forget the accounts kept per process (tests point AzureWebJobsStorage somewhere else between cases)."""
    _account_for.cache_clear()
