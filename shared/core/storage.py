"""One Azure Storage account: lazily created table, queue and blob clients that share one way in — a connection
string, or service URIs and an Entra ID token credential (the Functions host's identity-based setting convention).

Which of the two, and where, comes from the settings of one connection name (`AzureWebJobsStorage` unless a binding
names another), read here and nowhere else:

- `<conn>`: a connection string (`UseDevelopmentStorage=true` included). When set, it wins.
- `<conn>__accountName`: the account, whose services are `https://<name>.{blob,queue,table}.core.windows.net`;
  `<conn>__blobServiceUri` / `__queueServiceUri` / `__tableServiceUri` name a service's URI explicitly (each
  optional; a service whose URI cannot be derived is an error only when it is used).
- `<conn>__credential` = `managedidentity` and `<conn>__clientId` (a user-assigned identity): an azure-identity
  credential. azure-identity loads only on this path (~50 ms of cold start a connection string never pays).

Neither `<conn>` nor any `<conn>__*` is StorageNotConfigured (a ConfigurationError: the start-up check and
/api/health report it, and every route that needs storage answers 503) — never a fallback to development storage.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.core.errors import ConfigurationError
from shared.core.once import one_per_key

if TYPE_CHECKING:  # every SDK loads on first use: importing function_app must not load it (README: Cold start)
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableClient, TableServiceClient
    from azure.storage.blob import BlobServiceClient, ContainerClient
    from azure.storage.queue import QueueClient

STORAGE_SETTING = "AzureWebJobsStorage"  # the host's own storage, and every binding that names no other connection
SERVICES = ("blob", "queue", "table")
MANAGED_IDENTITY = "managedidentity"  # the one `__credential` value the Functions host defines
AZURE_CLIENT_ID_SETTING = "AZURE_CLIENT_ID"  # azure-identity's convention for the user-assigned identity

# Azurite's published development account (not a secret: it is in every Azure Storage SDK and emulator).
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class StorageNotConfigured(ConfigurationError):
    """No storage setting, or one that cannot reach the service asked for. The message names the settings."""

    code = "storage_not_configured"


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


@dataclass(frozen=True)
class StorageTarget:
    """Where one connection name's storage is and how to sign in: a connection string, or identity-based."""

    setting: str = STORAGE_SETTING
    connection_string: str = field(default="", repr=False)  # holds the account key
    blob_uri: str = ""
    queue_uri: str = ""
    table_uri: str = ""
    credential: str = ""  # `managedidentity`, or empty: DefaultAzureCredential
    client_id: str = ""  # a user-assigned managed identity's client id

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, setting: str = STORAGE_SETTING
    ) -> StorageTarget:
        env = os.environ if environ is None else environ
        connection = (env.get(setting) or "").strip()
        if connection:
            return cls(setting, connection_string=expand_connection_string(connection))
        prefix = f"{setting}__".lower()
        parts = {
            name[len(prefix) :].lower(): value.strip() for name, value in env.items() if name.lower().startswith(prefix)
        }
        parts = {key: value for key, value in parts.items() if value}
        if not parts:
            raise StorageNotConfigured(
                f"storage: {setting} is not set. Set it to a connection string (UseDevelopmentStorage=true for "
                f"Azurite), or use a managed identity with {setting}__accountName (or {setting}__blobServiceUri, "
                f"__queueServiceUri, __tableServiceUri) and {setting}__credential=managedidentity, {setting}__clientId"
            )
        account = parts.get("accountname", "")
        uris = {}
        for service in SERVICES:
            uri = parts.get(f"{service}serviceuri") or (
                f"https://{account}.{service}.core.windows.net" if account else ""
            )
            if uri and not uri.lower().startswith("https://"):
                raise StorageNotConfigured(
                    f"storage: {setting}__{service}ServiceUri must be an https URL (tokens are never sent over "
                    f"plain HTTP), got {uri[:80]!r}"
                )
            uris[service] = uri.rstrip("/")
        credential = parts.get("credential", "").lower()
        return cls(
            setting,
            blob_uri=uris["blob"],
            queue_uri=uris["queue"],
            table_uri=uris["table"],
            credential=credential,
            client_id=parts.get("clientid", ""),
        )

    @property
    def identity_based(self) -> bool:
        return not self.connection_string

    def service_uri(self, service: str) -> str:
        uri = getattr(self, f"{service}_uri")
        if not uri:
            raise StorageNotConfigured(
                f"storage: no {service} service for {self.setting}: set {self.setting}__accountName or "
                f"{self.setting}__{service}ServiceUri"
            )
        return uri


def credential_for(target: StorageTarget) -> TokenCredential:
    """The Functions host's rule: `managedidentity` is the managed identity (user-assigned when a client id is
    given); anything else is DefaultAzureCredential, preferring that user-assigned identity when one is named."""
    from azure.identity import DefaultAzureCredential

    from shared.core.identity import managed_identity_credential

    if target.credential == MANAGED_IDENTITY:
        return managed_identity_credential(target.client_id)
    if target.client_id:
        return DefaultAzureCredential(managed_identity_client_id=target.client_id)
    return DefaultAzureCredential()


def managed_identity_client_id(environ: Mapping[str, str] | None = None) -> str:
    """The user-assigned identity Firebell runs as, for tokens other than storage (Azure DevOps): AZURE_CLIENT_ID,
    else the storage connection's `__clientId` (infra/ sets both to the same identity); empty: system-assigned."""
    env = os.environ if environ is None else environ
    explicit = (env.get(AZURE_CLIENT_ID_SETTING) or "").strip()
    if explicit:
        return explicit
    prefix = f"{STORAGE_SETTING}__clientId".lower()
    return next((value.strip() for name, value in env.items() if name.lower() == prefix and value.strip()), "")


# Fail fast when storage is down: the HTTP edge answers 503 and the caller (Azure Monitor, a queue) retries.
# Tables use azure-core's retry options; blob and queue clients take a storage retry policy (default: 15 s backoff).
_TIMEOUTS: dict[str, Any] = {"connection_timeout": 3, "read_timeout": 20}
# With env settings on, requests looks for proxies, a CA bundle and ~/.netrc on every request: a scan of the whole
# environment and file checks, a tenth of an alert's CPU. Read once instead: without a proxy the SDKs' sessions skip
# the look-up and get the CA bundle the environment names, if any; with a proxy requests keeps reading them (NO_PROXY).
_PROXY_SETTINGS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
_CA_BUNDLE_SETTINGS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")  # requests' order


def environment_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The SDK options that stand for the proxy and CA bundle settings of the environment (either case)."""
    env = os.environ if environ is None else environ
    if any(env.get(name) or env.get(name.lower()) for name in _PROXY_SETTINGS):
        return {}
    bundle = next((env[name] for name in _CA_BUNDLE_SETTINGS if env.get(name)), None)
    return {"use_env_settings": False, **({"connection_verify": bundle} if bundle else {})}


_TABLE_RETRY: dict[str, Any] = {"retry_total": 2, "retry_backoff_factor": 0.2}


def _blob_retry() -> Any:
    from azure.storage.blob import LinearRetry

    return LinearRetry(backoff=0.3, random_jitter_range=0.2, retry_total=2)


def _queue_retry() -> Any:
    from azure.storage.queue import LinearRetry

    return LinearRetry(backoff=0.3, random_jitter_range=0.2, retry_total=2)


class StorageAccount:
    def __init__(
        self,
        target: StorageTarget | str,
        on_request: Callable[[Any], None] | None = None,
        *,
        credential: TokenCredential | None = None,
        on_response: Callable[[Any], None] | None = None,
    ) -> None:
        """`target` is a StorageTarget or a connection string. An identity-based target signs in with `credential`,
        by default the one its settings name (built on first use). `on_request` sees every request on the wire
        (azure-core's raw_request_hook): benchmarks count with it; `on_response` every answer (raw_response_hook):
        the chaos runs learn from it when the messages a flow queued become visible."""
        if isinstance(target, str):
            target = StorageTarget(connection_string=expand_connection_string(target))
        self.target = target
        self._credential = credential
        self._options: dict[str, Any] = {**_TIMEOUTS, **environment_options()}
        self._lean = self._options.get("use_env_settings") is False  # no proxy: clients send through StorageSession
        if on_request is not None:
            self._options["raw_request_hook"] = on_request
        if on_response is not None:
            self._options["raw_response_hook"] = on_response
        self._lock = threading.Lock()
        self._credential_lock = threading.Lock()
        self._tables: dict[str, TableClient] = {}
        self._queues: dict[tuple[str, str], QueueClient] = {}
        self._containers: dict[str, ContainerClient] = {}

    def _client_options(self) -> dict[str, Any]:
        """The options of one SDK client: a session of its own (a client closes the session it was given)."""
        if not self._lean:
            return self._options
        from shared.core.storage_session import StorageSession

        return {**self._options, "session": StorageSession()}

    @property
    def connection_string(self) -> str:
        return self.target.connection_string

    def credential(self) -> TokenCredential:
        """The token credential of an identity-based account; one per account, so its token cache is shared."""
        with self._credential_lock:
            if self._credential is None:
                self._credential = credential_for(self.target)
            return self._credential

    @functools.cached_property
    def table_service(self) -> TableServiceClient:
        from azure.data.tables import TableServiceClient

        if self.target.identity_based:
            uri = self.target.service_uri("table")
            return TableServiceClient(uri, credential=self.credential(), **self._client_options(), **_TABLE_RETRY)
        return TableServiceClient.from_connection_string(
            self.connection_string, **self._client_options(), **_TABLE_RETRY
        )

    @functools.cached_property
    def blob_service(self) -> BlobServiceClient:
        from azure.storage.blob import BlobServiceClient

        if self.target.identity_based:
            uri = self.target.service_uri("blob")
            return BlobServiceClient(
                uri, credential=self.credential(), retry_policy=_blob_retry(), **self._client_options()
            )
        return BlobServiceClient.from_connection_string(
            self.connection_string, retry_policy=_blob_retry(), **self._client_options()
        )

    def table(self, name: str) -> TableClient:
        """A table client; the table is created once per process, on first use."""
        with self._lock:
            if name not in self._tables:
                _create_quietly(lambda: self.table_service.create_table(name))
                self._tables[name] = self.table_service.get_table_client(name)
            return self._tables[name]

    def queue(self, name: str, encoding: str = "base64") -> QueueClient:
        """A queue client whose messages use the Functions host's encoding (host.json `messageEncoding`); the queue
        is created once per process, on first use."""
        with self._lock:
            if (name, encoding) not in self._queues:
                client = self._queue_client(name, encoding)
                _create_quietly(client.create_queue)
                self._queues[(name, encoding)] = client
            return self._queues[(name, encoding)]

    def message_count(self, name: str) -> int:
        """The queue's approximate message count (one properties request); 0 for a queue that does not exist. Never
        creates the queue, unlike `queue()`."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._queue_client(name, "none").get_queue_properties().approximate_message_count or 0
        except ResourceNotFoundError:
            return 0

    def _queue_client(self, name: str, encoding: str) -> QueueClient:
        from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

        options: dict[str, Any] = {"retry_policy": _queue_retry(), **self._client_options()}
        if encoding == "base64":
            options["message_encode_policy"] = TextBase64EncodePolicy()
            options["message_decode_policy"] = TextBase64DecodePolicy()
        if self.target.identity_based:
            return QueueClient(self.target.service_uri("queue"), name, credential=self.credential(), **options)
        return QueueClient.from_connection_string(self.connection_string, name, **options)

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
    from azure.core.exceptions import ResourceExistsError

    with contextlib.suppress(ResourceExistsError):
        create()


def target(setting: str = STORAGE_SETTING) -> StorageTarget:
    """The storage that `setting` names in this process's environment; StorageNotConfigured when it names none."""
    return StorageTarget.from_environment(os.environ, setting)


@one_per_key
def _account_for(found: StorageTarget) -> StorageAccount:
    return StorageAccount(found)


def account(setting: str = STORAGE_SETTING) -> StorageAccount:
    """The account `setting` (by default `AzureWebJobsStorage`) names, shared by every function in this process;
    StorageNotConfigured when the setting is missing."""
    return _account_for(target(setting))


def reset() -> None:
    """Forget the accounts kept per process (tests point AzureWebJobsStorage somewhere else between cases)."""
    _account_for.cache_clear()
