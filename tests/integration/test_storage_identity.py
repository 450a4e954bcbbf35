"""The identity path runs here, not only in Azure: a second Azurite serves HTTPS and accepts Entra ID bearer tokens
(`--oauth basic`), and Firebell reaches it through the host's identity-based settings (service URIs, a managed
identity, no connection string) — the library, and a whole devhost in its own processes.

Tokens come from tests/standins/entra_tokens.py: a TokenCredential, and for the settings-driven paths the App Service
managed-identity endpoint that azure-identity itself asks (IDENTITY_ENDPOINT / IDENTITY_HEADER, as in Azure), so
the code under test is the code Azure runs. Azurite's certificate is trusted through REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from devhost.azurite import Azurite
from devhost.process import DevhostProcess
from functions import context
from functions.health import forget_verdict
from shared.core import storage
from shared.core.settings import DEVELOPMENT_ID_KEY
from shared.core.storage import StorageAccount, StorageNotConfigured, StorageTarget
from shared.core.timeutil import utc_now
from shared.incidents.declaration import Declaration
from shared.incidents.declaration_intake import open_declared
from shared.incidents.store import IncidentStore
from shared.statuspage.public_ids import public_id
from tests.conftest import IDENTITY_CLIENT_ID, ROOT, sample_bytes, wait_until
from tests.standins.entra_tokens import (
    STORAGE_AUDIENCE,
    ManagedIdentityEndpoint,
    StorageTestCredential,
    TokenRequest,
)

KEY = "identity-test-key"
SAMPLE = "59_test_action_metric_static_threshold.json"
STORAGE_SCOPE = f"{STORAGE_AUDIENCE}/.default"


@pytest.fixture
def managed_identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[ManagedIdentityEndpoint]:
    """The platform's managed-identity endpoint, in this process's environment as Azure sets it."""
    for name in ("IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "AZURE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    with ManagedIdentityEndpoint() as endpoint:
        for name, value in endpoint.environment().items():
            monkeypatch.setenv(name, value)
        yield endpoint


def declaration() -> Declaration:
    return Declaration(
        title="Card payments time out",
        severity=2,
        reporter="Ana Souza",
        service="checkout",
        components=("Checkout",),
        source="customer",
        description="",
        customer_impact="",
        detected_at=None,
    )


# --- the library: service URIs + a token credential --------------------------------------------------------------
def test_service_uris_and_a_token_credential_write_and_read_tables_queues_and_blobs(identity_storage):
    credential = StorageTestCredential()
    target = StorageTarget.from_environment()
    assert target.identity_based and target.connection_string == ""
    account = StorageAccount(target, credential=credential)

    store = IncidentStore(account)
    declared = open_declared(declaration(), None, store, context.catalog(), utc_now())
    stored = store.get_incident(declared.incident.id)
    assert stored is not None
    assert (stored.id, stored.title, stored.severity) == ("INC-1", "Card payments time out", 2)
    assert [event.kind for event in store.timeline("INC-1")] == [declared.event.kind]

    # Queues: the host's base64 encoding on the wire, the text back through the decoding client.
    account.queue("notifications").send_message('{"incident": "INC-1"}')
    (raw,) = account.queue("notifications", encoding="none").peek_messages()
    assert raw.content == base64.b64encode(b'{"incident": "INC-1"}').decode()
    (received,) = account.queue("notifications").receive_messages()
    assert received.content == '{"incident": "INC-1"}'

    account.container("postmortems").upload_blob("INC-1.md", b"# INC-1 review\n", overwrite=True)
    assert account.container("postmortems").download_blob("INC-1.md").readall() == b"# INC-1 review\n"

    assert set(credential.scopes) == {(STORAGE_SCOPE,)}  # every token asked for is a storage token


@pytest.mark.parametrize(
    ("token", "refusal"),
    [
        ({"audience": "https://vault.azure.net"}, "Invalid token audience."),
        ({"issuer": "https://login.example.com/tenant/"}, "Invalid token issuer."),
        ({"lifetime": -600}, "Lifetime validation failed. The token is expired."),
    ],
)
def test_azurite_refuses_a_table_token_it_would_not_accept_from_entra_id(identity_storage, token, refusal):
    """The tokens are really checked: a wrong audience, issuer or lifetime is refused (so the test above can fail)."""
    account = StorageAccount(StorageTarget.from_environment(), credential=StorageTestCredential(**token))
    with pytest.raises(ClientAuthenticationError) as refused:
        account.table("incidents")
    assert f"AuthenticationErrorDetail:{refusal}" in str(refused.value)


@pytest.mark.parametrize("service", ["queue", "blob"])
def test_azurite_refuses_queue_and_blob_requests_with_a_token_for_another_audience(identity_storage, service):
    account = StorageAccount(
        StorageTarget.from_environment(), credential=StorageTestCredential(audience="https://vault.azure.net")
    )
    with pytest.raises(HttpResponseError) as refused:
        account.queue("notifications") if service == "queue" else account.container("postmortems")
    assert (refused.value.status_code, refused.value.error_code) == (403, "AuthenticationFailed")


# --- the settings alone: the managed identity they name ----------------------------------------------------------
def test_the_app_account_signs_in_as_the_user_assigned_identity_the_settings_name(identity_storage, managed_identity):
    account = storage.account()
    account.table("incidents").upsert_entity({"PartitionKey": "p", "RowKey": "r", "seen": True})
    account.queue("statuspage").send_message("{}")
    account.container("$web").upload_blob("index.html", b"<h1>ok</h1>", overwrite=True)
    assert account.table("incidents").get_entity("p", "r")["seen"] is True
    # One token for all three services (one credential per account; azure-identity caches it), for the named identity.
    assert managed_identity.requests() == [TokenRequest(STORAGE_AUDIENCE, IDENTITY_CLIENT_ID)]
    assert storage.account() is account


def test_without_credential_setting_the_default_chain_prefers_the_named_identity(
    identity_storage, managed_identity, monkeypatch
):
    monkeypatch.delenv("AzureWebJobsStorage__credential")
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    storage.account().table("incidents").upsert_entity({"PartitionKey": "p", "RowKey": "r"})
    assert managed_identity.requests() == [TokenRequest(STORAGE_AUDIENCE, IDENTITY_CLIENT_ID)]


def test_a_service_without_a_uri_is_an_error_only_when_it_is_used(identity_storage, managed_identity, monkeypatch):
    monkeypatch.delenv("AzureWebJobsStorage__blobServiceUri")
    account = storage.account()
    account.table("incidents").upsert_entity({"PartitionKey": "p", "RowKey": "r"})  # tables still work
    with pytest.raises(StorageNotConfigured) as refused:
        account.container("$web")
    assert refused.value.detail == (
        "storage: no blob service for AzureWebJobsStorage: set AzureWebJobsStorage__accountName or "
        "AzureWebJobsStorage__blobServiceUri"
    )


# --- a devhost without a connection string -----------------------------------------------------------------------
def test_a_devhost_on_identity_based_settings_is_healthy_and_takes_an_alert_end_to_end(
    identity_storage, azurite_oauth: Azurite, azurite_certificate
):
    """Two processes (HTTP, and queue listeners and timers), each signing in through the managed-identity endpoint:
    the alert is stored (tables), its change consumed from the statuspage queue (queues) and the page published to
    and served from $web (blobs)."""
    with ManagedIdentityEndpoint() as endpoint:
        environment = {
            **identity_storage,
            **endpoint.environment(),
            "REQUESTS_CA_BUNDLE": str(azurite_certificate.ca_bundle),
            "FIREBELL_FUNCTION_KEY": KEY,
            "FIREBELL_CONFIG_DIR": str(ROOT / "config"),
            "STATUS_PAGE_TITLE": "Acme Status",
        }
        with DevhostProcess(None, environment) as host:
            assert "AzureWebJobsStorage" not in host.env
            health = requests.get(f"{host.url}/api/health/details", headers={"x-functions-key": KEY}, timeout=30)
            assert (health.status_code, health.json()["status"], health.json()["storage"]) == (
                200,
                "healthy",
                "reachable",
            )
            answer = requests.post(
                f"{host.url}/api/alerts",
                params={"code": KEY},
                # Sev0: a SEV1, public at once
                data=sample_bytes(SAMPLE).replace(b'"severity": "Sev4"', b'"severity": "Sev0"'),
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
            assert (answer.status_code, answer.json()["incident"], answer.json()["outcome"]) == (202, "INC-1", "opened")
            public = public_id("INC-1", DEVELOPMENT_ID_KEY.encode())

            def published() -> requests.Response | None:
                page = requests.get(f"{host.url}/status/", timeout=10)
                return page if page.status_code == 200 and public in page.text else None

            page = wait_until(published, timeout=30)
            assert f'<a href="incidents/{public}.html">Issue affecting Checkout</a>' in page.text
        # Both processes asked the platform for a storage token as the named identity, and nothing else.
        assert set(endpoint.requests()) == {TokenRequest(STORAGE_AUDIENCE, IDENTITY_CLIENT_ID)}
        assert len(endpoint.requests()) >= 2


def test_a_devhost_without_any_storage_setting_does_not_start_and_says_why(clean_environment):
    host = DevhostProcess(None, {"FIREBELL_CONFIG_DIR": str(ROOT / "config")})
    with pytest.raises(RuntimeError) as refused:
        host.start()
    assert "devhost exited with status 2" in str(refused.value)
    assert "devhost: storage: AzureWebJobsStorage is not set." in str(refused.value)


# --- no storage setting at all -------------------------------------------------------------------------------------
def test_without_a_storage_setting_the_start_up_check_and_health_say_so_and_alerts_get_503(firebell, monkeypatch):
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    monkeypatch.delenv("AzureWebJobsStorage")
    context.reset()
    (problem,) = [problem for problem in context.check() if problem.startswith("storage:")]
    assert problem.startswith("storage: AzureWebJobsStorage is not set.")
    forget_verdict()  # a verdict cached by an earlier test in this process
    anonymous = requests.get(f"{firebell}/health", timeout=30)
    assert (anonymous.status_code, anonymous.json()) == (503, {"status": "unhealthy"})
    health = requests.get(f"{firebell}/health/details", headers={"x-functions-key": KEY}, timeout=30)
    assert (health.status_code, health.json()["status"], health.json()["storage"]) == (
        503,
        "unhealthy",
        "not configured",
    )
    alert = requests.post(
        f"{firebell}/alerts",
        params={"code": KEY},
        data=sample_bytes(SAMPLE),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert (alert.status_code, alert.json()["error"]) == (503, "storage_not_configured")
