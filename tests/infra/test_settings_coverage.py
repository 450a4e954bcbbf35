"""Every setting the code reads is set by the Bicep app settings, or is in the allow-list below with the reason it
is not. A new setting read anywhere under shared/ or functions/ fails this test until infra/ sets it (or it is
listed here with its reason)."""

import re

from tests.infra.bicep_model import ROOT, app_setting_names
from tests.infra.code_scan import scan

# Read by the code, deliberately not an app setting in Azure.
NOT_SET_BY_BICEP = {
    "WEBSITE_HOSTNAME": "set by the App Service platform to the app's host name",
    "IDENTITY_ENDPOINT": "set by the platform when a managed identity is assigned (the token endpoint)",
    "IDENTITY_HEADER": "set by the platform with IDENTITY_ENDPOINT",
    "FIREBELL_FUNCTION_KEY": "devhost only: in Azure the Functions host checks its own keys for function-level routes",
    "GRAPH_CLIENT_SECRET": "a client secret for Graph outside Azure; in Azure the managed identity gets the tokens",
    "AzureWebJobsStorage": "the connection-string form; Azure uses the identity-based AzureWebJobsStorage__* settings",
}

# Identity-based storage: the host's convention. __accountName (+ __credential, __clientId) is what infra/ sets; the
# service-URI forms are optional alternatives the code also accepts (sovereign clouds, Azurite over HTTPS).
IDENTITY_STORAGE = re.compile(r"^AzureWebJobsStorage__(accountName|credential|clientId|\w+ServiceUri)$")
REQUIRED_IDENTITY_STORAGE = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
}


def test_the_scan_finds_the_settings_it_must():
    read = set(scan().settings)
    # A scan that finds nothing would pass the next test vacuously.
    assert {"AzureWebJobsStorage", "FIREBELL_CONFIG_DIR", "TEAMS_OUTGOING_WEBHOOK_TOKEN", "STATUS_PAGE_URL"} <= read
    assert {"FIREBELL_ENTRA_TENANT_ID", "FIREBELL_ENTRA_AUDIENCE", "AZURE_DEVOPS_PAT"} <= read


def test_every_setting_the_code_reads_is_set_by_bicep_or_documented():
    set_by_bicep = app_setting_names()
    missing = {
        name: sorted(files)
        for name, files in scan().settings.items()
        if name not in set_by_bicep and name not in NOT_SET_BY_BICEP and not IDENTITY_STORAGE.match(name)
    }
    assert missing == {}, "settings read by the code that infra/ does not set (add them to infra/main.bicep)"


def test_storage_and_identity_settings_are_identity_based():
    settings = app_setting_names()
    assert settings >= REQUIRED_IDENTITY_STORAGE
    assert "AzureWebJobsStorage" not in settings  # no connection string (shared keys are off)
    assert {
        "AZURE_CLIENT_ID",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    } <= (settings)
    # Flex Consumption rejects these: the runtime is in functionAppConfig.
    assert not settings & {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"}


def test_every_setting_in_the_readme_table_is_set_by_bicep_or_documented():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([^`]+)`", row.split("|")[1])
    }
    assert "TEAMS_WORKFLOW_URL" in documented
    optional_storage = {name for name in documented if IDENTITY_STORAGE.match(name)}  # the service-URI forms
    missing = documented - app_setting_names() - set(NOT_SET_BY_BICEP) - optional_storage
    assert missing == set()
