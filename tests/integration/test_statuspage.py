"""The statuspage function publishes the site to `$web` in Azurite, coalescing bursts of changes."""

from __future__ import annotations

from datetime import timedelta

from functions.statuspage import SitePublisher
from shared.adapters.incident_store import IncidentStore
from shared.alert import parse_alert
from shared.alert_intake import receive_alert
from shared.catalog import load_catalog
from shared.timeutil import utc_now
from tests.conftest import ROOT, sample_bytes


def test_the_site_is_published_with_its_headers_and_bursts_are_coalesced(storage_account):
    receive_alert(
        parse_alert(sample_bytes("59_test_action_metric_static_threshold.json")),
        load_catalog(ROOT / "config"),
        IncidentStore(storage_account),
        utc_now(),
    )
    publisher = SitePublisher()
    before_first_render = utc_now() - timedelta(seconds=2)
    assert publisher.refresh(before_first_render) == 2  # incidents/INC-1.html and index.html

    web = storage_account.container("$web")
    index = web.get_blob_client("index.html")
    settings = index.get_blob_properties().content_settings
    assert (settings.content_type, settings.cache_control) == ("text/html; charset=utf-8", "public, max-age=30")
    assert b"incidents/INC-1.html" in index.download_blob().readall()
    assert web.get_blob_client("incidents/INC-1.html").exists()

    # A message enqueued before that render started is already shown: nothing to do.
    assert publisher.refresh(before_first_render) == 0
    # A later message renders again, but only the index: INC-1 has not changed since it was published.
    assert publisher.refresh(utc_now()) == 1
