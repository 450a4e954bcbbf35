"""Shared fixtures: the reference samples, one in-memory Azurite per test session, and clean storage per test."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from devhost.azurite import Azurite
from functions import context
from shared.core import storage
from tests.standins.entra_tokens import Certificate, self_signed_certificate
from tests.standins.faulty_storage import FaultyAccount

ROOT = Path(__file__).resolve().parent.parent
# Real payloads of Azure Monitor, Teams and Statuspage, copied verbatim; tests/fixtures/README.md names each source.
SAMPLES = ROOT / "tests" / "fixtures"
AZURE_MONITOR = SAMPLES / "azure-monitor"


def sample_bytes(name: str) -> bytes:
    return (AZURE_MONITOR / name).read_bytes()


def sample_json(name: str) -> dict:
    return json.loads(sample_bytes(name))


# Sources of the events the queue consumers (notifications and escalation, Azure Boards, incident channels) add on
# their own, moments after a change: tests of what people and monitoring recorded leave them out.
CONSUMER_SOURCES = ("notifications", "azure-boards", "graph")


def recorded_kinds(events: list) -> list[str]:
    """The kinds of timeline events (TimelineEvent or their API documents) written by people, tools and monitoring."""
    as_dicts = [event if isinstance(event, dict) else vars(event) for event in events]
    return [event["kind"] for event in as_dicts if event["source"] not in CONSUMER_SOURCES]


def write_config(parent: Path, files: dict[str, str]) -> Path:
    """A configuration folder (`parent/config`) holding the given TOML files, as FIREBELL_CONFIG_DIR reads them."""
    folder = parent / "config"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def wait_until(condition: Callable[[], object], timeout: float = 15.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


def pause_of(sent: Any) -> timedelta:
    """How long a message sent with a visibility timeout stays hidden, as the queue service recorded it."""
    return sent.next_visible_on - sent.inserted_on


def redeliver(queue: Any, sent: Any) -> Any:
    """A deferred message's next delivery now rather than after its pause (time made fast: the test moves its own
    clock on by `pause_of(sent)`): the queue makes it visible (Update Message, visibility 0) and hands it out as the
    host's listener would — with its own id and dequeue count. The caller deletes it after a successful run."""
    queue.update_message(sent, visibility_timeout=0)
    (message,) = list(queue.receive_messages(max_messages=32))
    assert message.id == sent.id
    return message


@pytest.fixture(scope="session", autouse=True)
def sdk_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The azure-devops SDK reads AZURE_DEVOPS_CACHE_DIR once, when azure.devops is first imported, and keeps its
    location cache there: a temporary folder for the whole session, set before any test can import the SDK (each
    Boards stand-in is an organisation of its own, so tests never read each other's entries)."""
    assert "azure.devops" not in sys.modules, "azure.devops was imported before its cache folder could be set"
    folder = tmp_path_factory.mktemp("azure-devops-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZURE_DEVOPS_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One in-memory Azurite on free ports; stopped at the end of the session, also when tests fail."""
    server = Azurite().start()
    try:
        yield server
    finally:
        server.stop(grace=3)  # in memory: nothing to flush


@pytest.fixture(scope="session")
def azurite_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made for this session (never a file in the repository)."""
    return self_signed_certificate(tmp_path_factory.mktemp("azurite-tls"))


@pytest.fixture(scope="session")
def azurite_oauth(azurite_certificate: Certificate) -> Iterator[Azurite]:
    """A second in-memory Azurite on free ports that speaks HTTPS and accepts Entra ID bearer tokens
    (`--oauth basic`): where the identity-based storage path runs in tests."""
    server = Azurite(tls=(azurite_certificate.cert, azurite_certificate.key), oauth=True).start()
    try:
        yield server
    finally:
        server.stop(grace=3)


IDENTITY_CLIENT_ID = "6d9c6f7e-0000-4000-8000-00000000c11d"  # the user-assigned identity the settings name


def identity_settings(server: Azurite) -> dict[str, str]:
    """The host's identity-based storage settings for `server`: service URIs, a managed identity, no secret."""
    return {
        "AzureWebJobsStorage__blobServiceUri": server.service_uri("blob"),
        "AzureWebJobsStorage__queueServiceUri": server.service_uri("queue"),
        "AzureWebJobsStorage__tableServiceUri": server.service_uri("table"),
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": IDENTITY_CLIENT_ID,
    }


@pytest.fixture
def identity_storage(
    azurite_oauth: Azurite, azurite_certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """Empty storage in the OAuth Azurite, and the app's settings pointing at it without a connection string;
    REQUESTS_CA_BUNDLE makes the SDKs' transport (requests) trust its certificate. Yields the storage settings."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite_certificate.ca_bundle))
    wipe(azurite_oauth.connection_string)  # the shared key still works: the test's own back door to check and clean
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    settings = identity_settings(azurite_oauth)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(ROOT / "config"))
    context.reset()
    yield settings
    context.reset()


def clear(connection_string: str) -> None:
    """Empty every table, queue and container but keep them: clients that created them once stay valid."""
    tables = TableServiceClient.from_connection_string(connection_string)
    for table in tables.list_tables():
        client = tables.get_table_client(table.name)
        partitions: dict[str, list[Any]] = {}
        for entity in client.list_entities(select=["PartitionKey", "RowKey"]):
            partitions.setdefault(entity["PartitionKey"], []).append(("delete", entity))
        for deletes in partitions.values():
            for start in range(0, len(deletes), 100):  # a transaction holds up to 100 operations of one partition
                client.submit_transaction(deletes[start : start + 100])
    queues = QueueServiceClient.from_connection_string(connection_string)
    for queue in queues.list_queues():
        queues.get_queue_client(queue.name).clear_messages()
    blobs = BlobServiceClient.from_connection_string(connection_string)
    for container in blobs.list_containers():
        client = blobs.get_container_client(container.name)
        for blob in client.list_blobs():
            client.delete_blob(blob.name)


def wipe(connection_string: str) -> None:
    tables = TableServiceClient.from_connection_string(connection_string)
    for table in tables.list_tables():
        tables.delete_table(table.name)
    queues = QueueServiceClient.from_connection_string(connection_string)
    for queue in queues.list_queues():
        queues.delete_queue(queue.name)
    blobs = BlobServiceClient.from_connection_string(connection_string)
    for container in blobs.list_containers():
        with contextlib.suppress(ResourceNotFoundError):
            blobs.delete_container(container.name)


@pytest.fixture
def storage_account(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[storage.StorageAccount]:
    """Empty storage for this test, and the app's settings pointing at it."""
    wipe(azurite.connection_string)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(ROOT / "config"))
    monkeypatch.setenv("STATUS_PAGE_TITLE", "Acme Status")
    context.reset()
    yield storage.account()
    context.reset()


@pytest.fixture
def metrics() -> Iterator[Any]:
    """Firebell's metrics recorded into an in-memory OpenTelemetry reader for this test (tests.measured.Measured)."""
    from shared.core import telemetry
    from tests.measured import Measured

    telemetry.reset()
    measured = Measured()
    yield measured
    telemetry.reset()
    measured.provider.shutdown()


@pytest.fixture
def faulty_storage(azurite: Azurite, storage_account, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyAccount]:
    """A fault-injecting proxy in front of each of this test's Azurite services, and the app's storage setting
    pointing through them (the test's own `storage_account` still goes straight to Azurite: its back door)."""
    with FaultyAccount(azurite.connection_string) as proxy:
        monkeypatch.setenv("AzureWebJobsStorage", proxy.connection_string)
        context.reset()
        yield proxy
    context.reset()


@pytest.fixture
def clean_environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


TEAMS_TOKEN = base64.b64encode(b"firebell-test-webhook-security-token").decode()


@pytest.fixture
def teams(firebell, monkeypatch: pytest.MonkeyPatch) -> str:
    """The Teams outgoing-webhook route of a running Firebell that trusts TEAMS_TOKEN."""
    monkeypatch.setenv("TEAMS_OUTGOING_WEBHOOK_TOKEN", TEAMS_TOKEN)
    return f"{firebell}/teams"


@contextlib.contextmanager
def running_firebell(*, background: bool = True) -> Iterator[str]:
    """The real FunctionApp in an in-process devhost on a free port, over the storage the settings name; yields its
    /api base URL. `background=False`: HTTP only, no queue triggers or timers, so nothing but the test acts on what
    the requests store."""
    import function_app
    from devhost.azurite import free_port
    from devhost.host import DevHost

    host = DevHost(function_app.app, ROOT / "host.json", port=free_port(), run_background=background).start()
    try:
        yield f"{host.url}/api"
    finally:
        host.stop()


@pytest.fixture
def firebell(storage_account) -> Iterator[str]:
    """Firebell over this test's Azurite, queue triggers and timers included. Set settings with monkeypatch before
    requesting it (they are read per request)."""
    with running_firebell() as url:
        yield url
