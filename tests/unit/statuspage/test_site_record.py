"""The publisher's private record: the incidents the page's windows reach are enough to render every file about
everything exactly as the whole history renders it, and the record reads back as it was written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.catalog.services import Catalog, Service
from shared.incidents.incident import Incident
from shared.incidents.timeline import PUBLIC_UPDATE, TimelineEvent, event_id
from shared.statuspage.public_view import StatusPage, assemble_page, status_page
from shared.statuspage.site import SiteFile, render_site
from shared.statuspage.site_record import (
    Known,
    SiteRecord,
    decode_month,
    decode_record,
    encode_month,
    encode_record,
    month_of,
    reached,
)
from shared.statuspage.web_store import FileVersion
from tests.unit.statuspage.ids import EVERY_SEVERITY_AT_ONCE, pid

CATALOG = Catalog(
    publication=EVERY_SEVERITY_AT_ONCE,
    services=(Service("checkout", "Checkout"), Service("search", "Search"), Service("login", "Login")),
    default=Service("default", "Other services"),
)
NOW = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)


def incident(number: int, declared: datetime, *, service: str = "checkout", open_: bool = False) -> Incident:
    component = {"checkout": "Checkout", "search": "Search", "login": "Login"}[service]
    return Incident(
        id=f"INC-{number}",
        number=number,
        title="cpu-high",
        service=service,
        components=(component,),
        severity=1 + number % 3,
        status="investigating" if open_ else "resolved",
        source="monitoring",
        source_detail="Azure Monitor",
        detected_at=declared,
        declared_at=declared,
        updated_at=declared + timedelta(minutes=50),
        acknowledged_at=declared + timedelta(minutes=5),
        resolved_at=None if open_ else declared + timedelta(minutes=50),
        latest_update="We are on it." if number % 2 else None,
        latest_update_at=declared + timedelta(minutes=10) if number % 2 else None,
        version=2 + number % 4,
    )


def history() -> list[Incident]:
    """Two years of checkout incidents every four days; Login hit once, long ago; two open now."""
    incidents = [incident(n, NOW - timedelta(days=4 * (200 - n), hours=3)) for n in range(1, 200)]
    incidents.append(incident(200, NOW - timedelta(days=700), service="login"))
    incidents += [incident(201, NOW - timedelta(hours=2), open_=True), incident(202, NOW - timedelta(hours=1))]
    return incidents


def known(incidents: list[Incident]) -> tuple[list[Known], StatusPage]:
    """Each incident as the whole history's page shows it, and that page."""
    page = status_page("Status", CATALOG, incidents, now=NOW)
    by_public = {public.id: public for public in page.incidents}
    everything = [Known.of(i, by_public[pid(i.id)]) for i in incidents]
    return everything, page


def about_everything(files: list[SiteFile]) -> dict[str, bytes]:
    return {f.path: f.body for f in files if not f.path.startswith(("incidents/", "history/"))}


def test_the_incidents_the_windows_reach_render_every_file_about_everything_as_the_whole_history_does():
    incidents = history()
    everything, whole = known(incidents)
    kept = reached(everything, NOW)
    assert len(kept) < len(everything) // 2  # the windows reach a small part of two years
    assert "INC-200" in {k.ident for k in kept}  # the last incident to touch Login: when its status last changed
    oldest = min(k.public.started_at for k in everything if k.public)
    page = assemble_page("Status", CATALOG, tuple(k.public for k in kept if k.public), (), NOW, oldest=oldest)
    months = sorted({k.month for k in everything})
    expected = about_everything(render_site(whole, ()))
    assert about_everything(render_site(page, (), {}, months)) == expected
    assert len(expected) >= 8  # index, history, feeds and the JSON documents


def posted(i: Incident) -> list[TimelineEvent]:
    """A public update in the incident's own words: only its timeline has them (a resolved row keeps none)."""
    at = i.declared_at + timedelta(minutes=20)
    words = {"status": "identified", "public_text": f"Update on {i.id}."}
    return [TimelineEvent(i.id, event_id(at, "u"), PUBLIC_UPDATE, at, at, "Dana", "teams", "", True, words)]


@pytest.mark.parametrize("later", [timedelta(0), timedelta(days=3), timedelta(days=40)], ids=["now", "3d", "40d"])
@pytest.mark.parametrize("withdrawn", [(), ("INC-200",), ("INC-202", "INC-199", "INC-198"), ("INC-203",)])
def test_what_the_windows_reached_still_renders_every_file_about_everything_after_withdrawals_and_later(
    withdrawn, later
):
    # Login was hit twice long ago (INC-203 first, the oldest incident); every incident has public words.
    incidents = [*history(), incident(203, NOW - timedelta(days=900), service="login")]
    timelines = {i.id: posted(i) for i in incidents}
    page = status_page("Status", CATALOG, incidents, timelines, now=NOW)
    by_public = {public.id: public for public in page.incidents}
    everything = [Known.of(i, by_public[pid(i.id)]) for i in incidents]
    kept = [k for k in reached(everything, NOW) if k.ident not in withdrawn]
    left = [i for i in incidents if i.id not in withdrawn]
    at = NOW + later

    whole = status_page("Status", CATALOG, left, timelines, now=at)
    # Open incidents are read at every render (the open index); the publisher finds the oldest in the earliest
    # month's list.
    fresh = {public.id: public for public in whole.incidents if public.is_open}
    shown = tuple(fresh.get(k.public.id, k.public) for k in kept if k.public)
    oldest = min(i.declared_at for i in left)
    partial = assemble_page("Status", CATALOG, shown, (), at, oldest=oldest)
    months = sorted({month_of(i.declared_at) for i in left})
    assert about_everything(render_site(partial, (), {}, months)) == about_everything(render_site(whole, ()))
    assert all("Update on" in str(k.public) for k in kept)


def test_a_record_and_a_month_list_read_back_as_written():
    everything, _ = known(history())
    version = FileVersion(subject=7, state=7, read_at=NOW, renderer="r1")
    record = SiteRecord(
        state=7,
        read_at=NOW,
        fingerprint="f1",
        published=True,
        oldest=NOW - timedelta(days=700),
        months=(date(2026, 11, 1), date(2026, 12, 1)),
        incidents=tuple(everything[-3:]),
        pending=(Known("INC-5", 5, 9, date(2024, 3, 1), None),),
        files={"index.html": ('"0x8DC"', version)},
    )
    assert decode_record(encode_record(record)) == record
    assert decode_month(encode_month(7, everything[:4])) == (7, tuple(everything[:4]))


def test_a_record_this_build_cannot_read_is_none_and_a_month_list_is_empty():
    assert decode_record(b'{"state": "x"}') is None
    assert decode_record(b"not json") is None
    assert decode_month(b"[]") == (0, ())
