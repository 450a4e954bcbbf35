"""Publishing never goes backwards, bursts are coalesced, and maintenance windows re-render the site on time.

Two publishers stand for two instances (or two threads of one); hooks of SitePublisher and publish() hold one of
them at a chosen point while the other publishes, so every interleaving here is deterministic.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import requests
from azure.functions.queue import QueueMessage

from functions import context, statuspage
from shared.catalog.services import load_catalog
from shared.core.timeutil import iso, parse_instant, utc_now
from shared.incidents.changes import change_message
from shared.incidents.store import IncidentStore
from shared.statuspage.maintenance_intake import announce, declare_maintenance
from shared.statuspage.maintenance_store import MaintenanceStore
from shared.statuspage.publisher import SitePublisher
from shared.statuspage.record_store import read_record
from shared.statuspage.site import SiteFile
from shared.statuspage.web_store import WEB_CONTAINER, FileVersion, publish
from tests.conftest import ROOT, wait_until
from tests.integration.test_statuspage import declare, page_of, post_update

HTML = "text/html; charset=utf-8"
T0 = datetime(2026, 4, 1, 22, tzinfo=UTC)


def snapshot(account) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Every blob of the site: its bytes and its metadata (read together, in one request per blob)."""
    container = account.container(WEB_CONTAINER)
    downloads = {item.name: container.download_blob(item.name) for item in container.list_blobs()}
    return {name: (download.readall(), dict(download.properties.metadata)) for name, download in downloads.items()}


def test_an_older_render_held_between_reading_and_publishing_never_overwrites_a_newer_one(storage_account):
    store = IncidentStore(storage_account)
    declare(store)
    post_update(store, "INC-1", "We are looking at failed card payments.")
    paused, resume = threading.Event(), threading.Event()
    held: list[list[SiteFile]] = []

    def hold(files: list[SiteFile]) -> None:
        held.append(files)
        paused.set()
        assert resume.wait(10)

    older = SitePublisher(storage_account, context.site_settings, before_publish=hold)
    thread = threading.Thread(target=lambda: reports.append(older.render_and_publish()))
    reports: list = []
    thread.start()
    assert paused.wait(10)  # the older render has read the store and rendered; it has published nothing

    post_update(store, "INC-1", "Payments work again.", status="resolved")
    newer = SitePublisher(storage_account, context.site_settings).render_and_publish()
    published = snapshot(storage_account)
    resume.set()
    thread.join(10)

    (report,) = reports
    assert report.written == ()  # every file it rendered: kept, the blob shows a newer version
    assert set(report.kept) == {site_file.path for site_file in held[0]}
    assert snapshot(storage_account) == published
    # The held render claimed the first state before it was held; the newer one claimed the next.
    assert published["index.html"][1]["state_version"] == "2"
    assert {metadata["state_version"] for _, metadata in published.values()} == {"2"}
    older_index = next(f.body for f in held[0] if f.path == "index.html")
    assert older_index != published["index.html"][0]
    assert b"Payments work again." in published[page_of("INC-1")][0]
    assert "index.html" in newer.written


def test_an_older_render_that_loses_the_etag_race_on_a_blob_reads_again_and_keeps_the_newer(storage_account):
    store = IncidentStore(storage_account)
    declare(store, severity=1)  # public at once
    newer_reports = []

    def race(path: str) -> None:
        # The older render has read index.html's version and is about to write it: a newer render publishes first.
        if path == "index.html" and not newer_reports:
            post_update(store, "INC-1", "A fix is rolling out.")
            newer_reports.append(SitePublisher(storage_account, context.site_settings).render_and_publish())

    older = SitePublisher(storage_account, context.site_settings, on_checked=race).render_and_publish()
    (newer,) = newer_reports
    # The older render published its incident page first; the newer replaced it, and wrote the index the older one
    # then failed to write conditionally (If-None-Match *: the index was absent when it looked).
    assert page_of("INC-1") in older.written and "index.html" in older.kept
    assert {page_of("INC-1"), "index.html"} <= set(newer.written)
    published = snapshot(storage_account)
    versions = {path: metadata["state_version"] for path, (_, metadata) in published.items()}
    assert {path: version for path, version in versions.items() if not path.startswith("assets/")} == {
        path: "2" for path in versions if not path.startswith("assets/")
    }
    assert b"A fix is rolling out." in published["index.html"][0]
    assert older.versions["index.html"] == newer.versions["index.html"]


def page(body: str, path: str = "incidents/INC-1.html", cache_control: str = "public, max-age=30") -> SiteFile:
    return SiteFile(path, body.encode(), HTML, cache_control)


def at(subject: int, state: int, seconds: int = 0) -> FileVersion:
    return FileVersion(subject=subject, state=state, read_at=T0 + timedelta(seconds=seconds), renderer="r1")


def test_a_blob_is_replaced_only_by_a_newer_version_of_what_it_shows(storage_account):
    container = storage_account.container(WEB_CONTAINER)
    container.upload_blob("incidents/INC-1.html", b"written before versions existed")
    assert publish(storage_account, [page("v5")], lambda _: at(5, 10)).written == ("incidents/INC-1.html",)
    # A render that read more elsewhere but this incident at an older version does not take its page back …
    assert publish(storage_account, [page("v4")], lambda _: at(4, 12, 5)).kept == ("incidents/INC-1.html",)
    # … nor does the same render again, nor an older one of the same incident version.
    assert publish(storage_account, [page("v5 again")], lambda _: at(5, 10)).written == ()
    assert publish(storage_account, [page("v5 older")], lambda _: at(5, 9, 9)).written == ()
    # Same data read later (a maintenance window opened by the clock): replaced.
    assert publish(storage_account, [page("v5 later")], lambda _: at(5, 10, 1)).written == ("incidents/INC-1.html",)
    blob = container.get_blob_client("incidents/INC-1.html")
    properties = blob.get_blob_properties()
    assert blob.download_blob().readall() == b"v5 later"
    assert (properties.content_settings.content_type, properties.content_settings.cache_control) == (
        HTML,
        "public, max-age=30",
    )
    assert properties.metadata == {
        "subject_version": "5",
        "state_version": "10",
        "read_at": "2026-04-01T22:00:01.000Z",
        "renderer": "r1",
    }


def test_a_content_hashed_asset_is_written_once(storage_account):
    asset = page("body{}", path="assets/status.0a1b2c.css", cache_control="public, max-age=31536000, immutable")
    assert publish(storage_account, [asset], lambda _: at(1, 1)).written == ("assets/status.0a1b2c.css",)
    assert publish(storage_account, [asset], lambda _: at(2, 2, 1)).kept == ("assets/status.0a1b2c.css",)


def send_burst(queue, rounds: int, per_round: int, change) -> None:
    """`rounds` times: one change to the store, then `per_round` messages from 8 senders at once (as many HTTP
    functions would enqueue them)."""
    for number in range(rounds):
        change(number)
        messages = [change_message("INC-1", [f"event-{number}-{n}"]) for n in range(per_round)]
        with ThreadPoolExecutor(8) as senders:
            list(senders.map(queue.send_message, messages))


def test_a_burst_of_1000_change_messages_costs_few_renders_and_shows_the_final_state(firebell, storage_account):
    store = IncidentStore(storage_account)
    declare(store)
    queue = storage_account.queue("statuspage")
    publisher = context.site_publisher()  # the devhost's functions run in this process, on this account

    def change(number: int) -> None:
        words = f"Update {number + 1} of 10: card payments recovering."
        post_update(store, "INC-1", words, status="resolved" if number == 9 else "monitoring")

    send_burst(queue, rounds=10, per_round=100, change=change)
    wait_until(lambda: queue.get_queue_properties().approximate_message_count == 0, timeout=60)

    assert publisher.renders <= 60, publisher.renders  # 1,000 messages, a few dozen renders at most
    assert storage_account.queue("statuspage-poison").get_queue_properties().approximate_message_count == 0
    final = store.get_incident("INC-1")
    assert final is not None and final.version == 11
    published = snapshot(storage_account)
    record, _etag = read_record(storage_account)
    assert record is not None and record.published  # the last state claimed is the one published
    assert published["index.html"][1]["state_version"] == str(record.state)
    assert {k.ident: k.version for k in record.incidents} == {"INC-1": 11}
    assert b"Update 10 of 10: card payments recovering." in published[page_of("INC-1")][0]
    summary = json.loads(published["api/v2/incidents.json"][0])
    (incident,) = summary["incidents"]
    assert incident["status"] == "resolved"
    assert "Update 10 of 10: card payments recovering." in [u["body"] for u in incident["incident_updates"]]
    status_page = requests.get(firebell.removesuffix("/api") + "/status/", timeout=10)
    assert status_page.content == published["index.html"][0]


def test_a_maintenance_window_re_renders_the_site_when_it_starts_and_when_it_ends(storage_account):
    store, catalog = MaintenanceStore(storage_account), load_catalog(ROOT / "config")
    now = utc_now()
    fields = {"name": "Database upgrade", "components": ["Checkout"]}
    # Seconds of margin on each side of every turn, so a busy machine's slow render still lands where it should.
    fields |= {"scheduled_for": iso(now + timedelta(seconds=3)), "scheduled_until": iso(now + timedelta(seconds=8))}
    window = declare_maintenance(store, catalog, fields, now).maintenance
    announce(storage_account, window, now, "declared")  # what POST /api/maintenances does after storing it
    queue = storage_account.queue("statuspage")

    def published() -> tuple[datetime, str]:
        """When the published render began reading, and MNT-1's status in scheduled-maintenances.json."""
        blob = storage_account.container(WEB_CONTAINER).get_blob_client("api/v2/scheduled-maintenances.json")
        download = blob.download_blob()  # content and metadata of one and the same upload
        (listed,) = json.loads(download.readall())["scheduled_maintenances"]
        return parse_instant(download.properties.metadata["read_at"]), listed["status"]

    def next_refresh() -> datetime:
        """Wait for the next queued refresh to show, run the statuspage function on it as the host would, and
        return when it showed. Nothing else renders: the hourly timer is not running."""
        message = wait_until(lambda: next(iter(queue.receive_messages(max_messages=1)), None), timeout=10)
        shown = utc_now()
        statuspage.on_change(QueueMessage(body=message.content.encode(), insertion_time=message.inserted_on))
        queue.delete_message(message)
        return shown

    next_refresh()  # the one enqueued at once
    announced = published()
    assert announced[0] < window.scheduled_for and announced[1] == "scheduled"
    assert next_refresh() >= window.scheduled_for  # hidden until the window opens …
    began = published()
    assert window.scheduled_for <= began[0] < window.scheduled_until and began[1] == "in_progress"
    assert next_refresh() >= window.scheduled_until  # … and until it closes
    ended = published()
    assert ended[0] >= window.scheduled_until and ended[1] == "completed"
    assert queue.get_queue_properties().approximate_message_count == 0
