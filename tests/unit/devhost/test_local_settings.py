"""local.settings.json fills in what the environment lacks; storage settings win as a whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

from devhost.settings import load_local_settings, storage_named

FILE_VALUES = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "STATUS_PAGE_TITLE": "Firebell Demo Status"}


def settings_file(folder: Path) -> Path:
    path = folder / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": FILE_VALUES}), encoding="utf-8")
    return path


def test_values_fill_in_what_the_environment_lacks_and_never_override_it(clean_environment, tmp_path):
    for name in (*FILE_VALUES, "AzureWebJobsStorage__accountName"):
        os.environ.pop(name, None)
    os.environ["STATUS_PAGE_TITLE"] = "Acme Status"
    assert load_local_settings(settings_file(tmp_path)) == 1
    assert (os.environ["AzureWebJobsStorage"], os.environ["STATUS_PAGE_TITLE"]) == (
        "UseDevelopmentStorage=true",
        "Acme Status",
    )


def test_identity_based_storage_in_the_environment_is_not_overridden_by_the_files_connection_string(
    clean_environment, tmp_path
):
    """A connection string wins over __accountName: taking the file's would quietly point at Azurite."""
    for name in FILE_VALUES:
        os.environ.pop(name, None)
    os.environ["AzureWebJobsStorage__accountName"] = "stfirebell7x2"
    assert load_local_settings(settings_file(tmp_path)) == 1  # the title only
    assert "AzureWebJobsStorage" not in os.environ


def test_storage_is_named_by_the_connection_string_or_any_identity_based_part():
    assert storage_named({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert storage_named({"AzureWebJobsStorage__queueServiceUri": "https://x.queue.core.windows.net"})
    assert storage_named({"azurewebjobsstorage__ACCOUNTNAME": "x"})
    assert not storage_named({"AzureWebJobsStorage": "  ", "AzureWebJobsStorageExtra": "x", "PATH": "/bin"})
