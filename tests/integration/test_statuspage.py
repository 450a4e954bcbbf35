"""The statuspage function publishes the site to `$web` in Azurite: each file with its headers and the version it
shows, only the incident pages behind the store, and no render for a message a published render already covers."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from functions import context
from shared.catalog.services import load_catalog
from shared.core.contention import attempts
from shared.core.timeutil import parse_instant, utc_now
from shared.incidents import lifecycle
from shared.incidents.declaration import parse_declaration
from shared.incidents.declaration_intake import open_declared
from shared.incidents.incident import Incident
from shared.incidents.store import IncidentChanged, IncidentStore
from shared.incidents.timeline import PUBLIC_UPDATE, TimelineEvent, event_id
from shared.statuspage.public_ids import public_id
from shared.statuspage.publisher import SitePublisher
from shared.statuspage.refresh import CLOCK_SKEW, Refresh
from shared.statuspage.web_store import WEB_CONTAINER
from tests.conftest import ROOT

CATALOG = load_catalog(ROOT / "config")


def declare(store: IncidentStore, service: str = "checkout", severity: int = 2) -> Incident:
    """An incident as the API declares it (version 1, one timeline event)."""
    now = utc_now()
    fields = {"title": "Card payments fail", "severity": severity, "reporter": "Dana", "service": service}
    return open_declared(parse_declaration(fields, CATALOG, now), None, store, CATALOG, now).incident


def post_update(store: IncidentStore, ident: str, words: str, status: str = "identified") -> Incident:
    """A public update as ChatOps posts one: the incident changes (its version grows) and the timeline records it."""
    for _ in attempts():
        now = utc_now()
        stored = store.load_incident(ident)
        assert stored is not None
        changed = stored.incident.changed(
            now,
            status=status,
            latest_update=words,
            latest_update_at=now,
            **({"resolved_at": now} if status == "resolved" else {}),
        )
        try:
            store.save_incident(changed, stored.etag, was_open=stored.incident.is_open)
        except IncidentChanged:
            continue
        public_status = "resolved" if status == "resolved" else status
        store.append_event(
            TimelineEvent(
                incident_id=ident,
                event_id=event_id(now, f"update-{changed.version}"),
                kind=PUBLIC_UPDATE,
                at=now,
                recorded_at=now,
                actor="Ana",
                source="teams",
                text=f"Ana posted a public update: {words}",
                public=True,
                data={"status": public_status, "public_text": words},
            )
        )
        return changed
    raise AssertionError("the incident kept changing")


def page_of(ident: str) -> str:
    """The path of an incident's public page: under its opaque public id, never INC-n."""
    return f"incidents/{public_id(ident, context.site_settings().id_key)}.html"


def blob(account, path: str):
    return account.container(WEB_CONTAINER).get_blob_client(path)


def test_every_file_is_published_with_its_headers_and_the_version_it_shows(storage_account):
    store = IncidentStore(storage_account)
    declare(store)
    post_update(store, "INC-1", "We found the faulty card processor.")  # INC-1 is at version 2
    declare(store, severity=1)  # INC-2 at version 1: a SEV1 is public at once
    declare(store, service="build-agents", severity=1)  # INC-3, internal: never published, counted in no version
    declare(store, severity=3)  # INC-4: a SEV3 nobody acknowledged is not public yet
    publisher = SitePublisher(storage_account, context.site_settings)
    assert publisher.refresh() > 0

    expected = {
        "index.html": ("text/html; charset=utf-8", "public, max-age=30"),
        page_of("INC-1"): ("text/html; charset=utf-8", "public, max-age=30"),
        "api/v2/summary.json": ("application/json", "public, max-age=30"),
        "history.atom": ("application/atom+xml", "public, max-age=60"),
    }
    for path, (content_type, cache_control) in expected.items():
        properties = blob(storage_account, path).get_blob_properties()
        settings = properties.content_settings
        assert (settings.content_type.split(";")[0], settings.cache_control) == (
            content_type.split(";")[0],
            cache_control,
        ), path
        assert properties.metadata["state_version"] == "1", path  # the first state of the site anyone claimed
    assert blob(storage_account, page_of("INC-1")).get_blob_properties().metadata["subject_version"] == "2"
    assert blob(storage_account, page_of("INC-2")).get_blob_properties().metadata["subject_version"] == "1"
    assert blob(storage_account, "index.html").get_blob_properties().metadata["subject_version"] == "1"
    (stylesheet,) = [b for b in storage_account.container(WEB_CONTAINER).list_blobs() if b.name.startswith("assets/")]
    assert stylesheet.content_settings.cache_control == "public, max-age=31536000, immutable"
    index = blob(storage_account, "index.html").download_blob().readall().decode()
    assert page_of("INC-1") in index and "We found the faulty card processor." in index
    # Neither the internal service's incident nor the unacknowledged SEV3 reaches any blob, and no blob says INC-.
    bodies = {b.name: blob(storage_account, b.name).download_blob().readall().decode() for b in _blobs(storage_account)}
    assert sorted(path for path in bodies if path.startswith("incidents/")) == sorted(
        [page_of("INC-1"), page_of("INC-2")]
    )
    for path, body in bodies.items():
        assert "INC-" not in path and "INC-" not in body and "Build pipelines" not in body, path
        assert public_id("INC-3", context.site_settings().id_key) not in body, path
        assert public_id("INC-4", context.site_settings().id_key) not in body, path


def test_an_unacknowledged_sev3_becomes_public_when_acknowledged(storage_account):
    store = IncidentStore(storage_account)
    declare(store, severity=3)
    publisher = SitePublisher(storage_account, context.site_settings)
    publisher.render_and_publish()
    assert not blob(storage_account, page_of("INC-1")).exists()
    summary = json.loads(blob(storage_account, "api/v2/summary.json").download_blob().readall())
    assert summary["incidents"] == [] and summary["status"]["indicator"] == "none"

    acknowledge(store, "INC-1")
    publisher.render_and_publish()
    assert blob(storage_account, page_of("INC-1")).exists()
    summary = json.loads(blob(storage_account, "api/v2/summary.json").download_blob().readall())
    assert [(i["id"], i["impact"]) for i in summary["incidents"]] == [
        (public_id("INC-1", context.site_settings().id_key), "minor")
    ]


def acknowledge(store: IncidentStore, ident: str) -> Incident:
    """A responder's ack, as the lifecycle records it."""
    for _ in attempts():
        stored = store.load_incident(ident)
        assert stored is not None
        changed = lifecycle.advance(stored.incident, "acknowledged", "Ana", utc_now())
        try:
            store.save_incident(changed, stored.etag, was_open=True)
        except IncidentChanged:
            continue
        return changed
    raise AssertionError("the incident kept changing")


def _blobs(account):
    return [b for b in account.container(WEB_CONTAINER).list_blobs() if not b.name.startswith("assets/")]


def test_only_incident_pages_behind_the_store_are_rendered_again_on_any_instance(storage_account):
    store = IncidentStore(storage_account)
    declare(store, severity=1)
    declare(store, severity=1)
    first = SitePublisher(storage_account, context.site_settings).render_and_publish()
    assert {page_of("INC-1"), page_of("INC-2"), "index.html"} <= set(first.written)
    assert first.written[-1] == "index.html"  # last: it links to everything before it

    post_update(store, "INC-2", "Builds are queued; nothing is lost.")
    # Another instance, which never published anything, tells from the pages' metadata which one is behind.
    second = SitePublisher(storage_account, context.site_settings).render_and_publish()
    pages = [path for path in second.written if path.startswith("incidents/")]
    assert pages == [page_of("INC-2")]
    assert second.written[-1] == "index.html"
    assert any(path.startswith("assets/") for path in second.kept)  # the same stylesheet is not uploaded again
    page = blob(storage_account, page_of("INC-2")).download_blob().readall().decode()
    assert "Builds are queued; nothing is lost." in page


def test_a_message_covered_by_a_published_render_costs_no_render_on_any_instance(storage_account):
    store = IncidentStore(storage_account)
    declare(store)
    enqueued = utc_now().replace(microsecond=0) - timedelta(seconds=5)
    received = utc_now()
    message = Refresh(received_at=received, inserted_at=enqueued)
    this, other = (
        SitePublisher(storage_account, context.site_settings),
        SitePublisher(storage_account, context.site_settings),
    )

    assert this.refresh(message) > 0
    assert this.refresh(message) == 0  # the render it waited for began after it was received
    assert other.refresh(message) == 0  # the other instance reads when the published render began reading
    assert (this.renders, other.renders) == (1, 0)
    # A message received after that render began needs a render of its own, on either instance.
    assert other.refresh(Refresh(received_at=utc_now())) > 0
    read_at = parse_instant(blob(storage_account, "index.html").get_blob_properties().metadata["read_at"])
    # A third instance (no renders of its own) trusts another's render for what it received more than CLOCK_SKEW
    # before that render began reading …
    third = SitePublisher(storage_account, context.site_settings)
    assert third.refresh(Refresh(received_at=read_at - CLOCK_SKEW - timedelta(milliseconds=100))) == 0
    assert third.renders == 0
    # … but not for what came closer to it than the clocks can be trusted.
    assert third.refresh(Refresh(received_at=read_at - CLOCK_SKEW + timedelta(milliseconds=100))) > 0
    assert (this.renders, other.renders, third.renders) == (1, 1, 1)


def test_pages_the_policy_no_longer_shows_and_inc_n_pages_from_before_public_ids_are_withdrawn(storage_account):
    store = IncidentStore(storage_account)
    declare(store, severity=1)
    container = storage_account.container(WEB_CONTAINER)
    container.upload_blob("incidents/INC-1.html", b"<p>published before public ids</p>")  # an upgraded deployment
    SitePublisher(storage_account, context.site_settings).render_and_publish()
    assert blob(storage_account, page_of("INC-1")).exists()
    assert not blob(storage_account, "incidents/INC-1.html").exists()

    # The operator marks Checkout internal: its incident leaves the index, the JSON API and its own page.
    found = context.site_settings()
    internal = replace(
        found.catalog,
        services=tuple(replace(s, public=s.id != "checkout" and s.public) for s in found.catalog.services),
    )
    SitePublisher(storage_account, lambda: found._replace(catalog=internal)).render_and_publish()
    assert not blob(storage_account, page_of("INC-1")).exists()
    summary = json.loads(blob(storage_account, "api/v2/summary.json").download_blob().readall())
    assert summary["incidents"] == [] and "Checkout" not in [c["name"] for c in summary["components"]]
