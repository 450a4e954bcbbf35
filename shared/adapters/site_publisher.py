"""Publish rendered site files to the `$web` container, each with its own Content-Type and Cache-Control."""

from __future__ import annotations

from shared.adapters.storage import StorageAccount
from shared.status_site import SiteFile

WEB_CONTAINER = "$web"


def publish(account: StorageAccount, files: list[SiteFile]) -> None:
    """Upload in the given order, so `index.html` (last) never links to a page that is not there yet."""
    from azure.storage.blob import ContentSettings  # loaded with the first publish, not at every cold start

    container = account.container(WEB_CONTAINER)
    for site_file in files:
        container.upload_blob(
            site_file.path,
            site_file.body,
            overwrite=True,
            content_settings=ContentSettings(
                content_type=site_file.content_type, cache_control=site_file.cache_control
            ),
        )
