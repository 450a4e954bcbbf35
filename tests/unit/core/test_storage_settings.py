"""Which storage a connection name's settings point at: a connection string, or the Functions host's identity-based
convention (`<conn>__accountName`, `__*ServiceUri`, `__credential`, `__clientId`) — and never a silent default."""

from __future__ import annotations

import pytest

from shared.core.errors import ConfigurationError
from shared.core.storage import (
    StorageAccount,
    StorageNotConfigured,
    StorageTarget,
    development_storage,
    environment_options,
    managed_identity_client_id,
)

CLIENT_ID = "6d9c6f7e-0000-4000-8000-00000000c11d"


def test_a_connection_string_is_used_as_given_and_wins_over_identity_settings():
    target = StorageTarget.from_environment(
        {
            "AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k",
            "AzureWebJobsStorage__accountName": "b",
        }
    )
    assert not target.identity_based
    assert target.connection_string == "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k"
    assert (target.blob_uri, target.queue_uri, target.table_uri) == ("", "", "")


def test_use_development_storage_given_explicitly_is_azurite():
    target = StorageTarget.from_environment({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert target.connection_string == development_storage()


def test_an_account_name_is_the_three_public_cloud_service_uris():
    target = StorageTarget.from_environment(
        {
            "AzureWebJobsStorage__accountName": "stfirebell",
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": CLIENT_ID,
        }
    )
    assert target == StorageTarget(
        "AzureWebJobsStorage",
        blob_uri="https://stfirebell.blob.core.windows.net",
        queue_uri="https://stfirebell.queue.core.windows.net",
        table_uri="https://stfirebell.table.core.windows.net",
        credential="managedidentity",
        client_id=CLIENT_ID,
    )
    assert target.identity_based


def test_an_explicit_service_uri_wins_over_the_account_name_and_names_are_case_insensitive():
    target = StorageTarget.from_environment(
        {
            "AzureWebJobsStorage__accountName": "stfirebell",
            "AzureWebJobsStorage__queueServiceUri": "https://queues.example.net/",
            "AZUREWEBJOBSSTORAGE__CREDENTIAL": "ManagedIdentity",
        }
    )
    assert (target.queue_uri, target.blob_uri, target.credential) == (
        "https://queues.example.net",
        "https://stfirebell.blob.core.windows.net",
        "managedidentity",
    )


def test_a_service_whose_uri_cannot_be_derived_is_an_error_only_when_asked_for():
    target = StorageTarget.from_environment({"AzureWebJobsStorage__blobServiceUri": "https://b.example.net"})
    assert target.service_uri("blob") == "https://b.example.net"
    with pytest.raises(StorageNotConfigured) as refused:
        target.service_uri("table")
    assert refused.value.detail == (
        "storage: no table service for AzureWebJobsStorage: set AzureWebJobsStorage__accountName or "
        "AzureWebJobsStorage__tableServiceUri"
    )
    account = StorageAccount(target, credential=object())  # type: ignore[arg-type]  # never asked for a token
    with pytest.raises(StorageNotConfigured):
        account.table("incidents")


@pytest.mark.parametrize("environ", [{}, {"AzureWebJobsStorage": " "}, {"AzureWebJobsStorage__accountName": ""}])
def test_no_storage_setting_is_a_configuration_error_never_development_storage(environ):
    with pytest.raises(StorageNotConfigured) as refused:
        StorageTarget.from_environment(environ)
    assert isinstance(refused.value, ConfigurationError) and refused.value.code == "storage_not_configured"
    assert refused.value.detail.startswith(
        "storage: AzureWebJobsStorage is not set. Set it to a connection string (UseDevelopmentStorage=true for "
        "Azurite), or use a managed identity with AzureWebJobsStorage__accountName"
    )


def test_tokens_are_never_sent_over_plain_http():
    with pytest.raises(StorageNotConfigured, match=r"AzureWebJobsStorage__tableServiceUri must be an https URL"):
        StorageTarget.from_environment({"AzureWebJobsStorage__tableServiceUri": "http://127.0.0.1:10002/dev"})


def test_a_binding_connection_reads_its_own_settings():
    environ = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "Archive__accountName": "starchive"}
    target = StorageTarget.from_environment(environ, "Archive")
    assert (target.setting, target.table_uri) == ("Archive", "https://starchive.table.core.windows.net")
    with pytest.raises(StorageNotConfigured, match="storage: Other is not set"):
        StorageTarget.from_environment(environ, "Other")


def test_the_connection_string_is_not_in_the_repr():
    target = StorageTarget.from_environment({"AzureWebJobsStorage": "AccountName=a;AccountKey=c2VjcmV0"})
    assert "c2VjcmV0" not in repr(target)


def test_other_services_use_the_same_user_assigned_identity():
    assert managed_identity_client_id({"AZURE_CLIENT_ID": "a", "AzureWebJobsStorage__clientId": "b"}) == "a"
    assert managed_identity_client_id({"AzureWebJobsStorage__clientId": CLIENT_ID}) == CLIENT_ID
    assert managed_identity_client_id({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}) == ""


def test_without_a_proxy_the_sdks_skip_the_per_request_environment_look_up_and_keep_the_ca_bundle():
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    assert environment_options({}) == {"use_env_settings": False}
    assert environment_options({"REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": "/other"}) == {
        "use_env_settings": False,
        "connection_verify": bundle,
    }
    assert environment_options({"CURL_CA_BUNDLE": bundle}) == {"use_env_settings": False, "connection_verify": bundle}


def test_with_a_proxy_in_the_environment_requests_keeps_reading_it_per_request():
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "no_proxy"):
        assert environment_options({name: "http://proxy.example:3128", "REQUESTS_CA_BUNDLE": "/b"}) == {}


def test_the_table_and_queue_clients_get_the_environment_options(monkeypatch: pytest.MonkeyPatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    account = StorageAccount("UseDevelopmentStorage=true")
    transports = [
        account.table_service._client._client._pipeline._transport,
        account._queue_client("notifications", "base64")._pipeline._transport,
    ]
    # The session each transport opens takes trust_env from this flag (azure-core's RequestsTransport).
    assert [(t._use_env_settings, t.connection_config.verify) for t in transports] == [
        (False, "/etc/ssl/certs/ca-certificates.crt")
    ] * 2
