"""A status page publish after a change reads what changed, not the history: the site's private record, the open
index, the incidents settled since the published state; it renders only the pages of changed incidents and the
month pages that list them, on any instance, and its storage requests do not grow with the history."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from functions import context
from shared.core.contention import attempts
from shared.core.storage import StorageAccount
from shared.core.timeutil import utc_now
from shared.incidents.incident import Incident
from shared.incidents.store import IncidentChanged, IncidentStore, _counter_entity, _incident_entity, _open_complete
from shared.statuspage.maintenance import Maintenance
from shared.statuspage.maintenance_store import MaintenanceStore
from shared.statuspage.maintenance_store import _entity as _maintenance_entity
from shared.statuspage.public_ids import public_id
from shared.statuspage.public_view import RECENT_LIMIT
from shared.statuspage.publisher import HEAL_LOOKBACK, SitePublisher
from shared.statuspage.record_store import read_record
from tests.integration.test_statuspage import blob, declare, page_of, post_update

NOW = utc_now()


class Requests:
    """Every storage request: (method, path, query), as sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, request: Any) -> None:
        url = urlsplit(request.http_request.url)
        self.seen.append((request.http_request.method, unquote(url.path), unquote(url.query)))

    def take(self) -> list[tuple[str, str, str]]:
        taken, self.seen = self.seen, []
        return taken


def old_incident(number: int, declared: datetime, severity: int = 1) -> Incident:
    """A resolved incident of the checkout service from long ago (a SEV1: public at once)."""
    return Incident(
        id=f"INC-{number}",
        number=number,
        title="Card payments fail",
        service="checkout",
        components=("Checkout",),
        severity=severity,
        status="resolved",
        source="monitoring",
        source_detail="Azure Monitor",
        detected_at=declared,
        declared_at=declared,
        updated_at=declared + timedelta(minutes=40),
        acknowledged_at=declared + timedelta(minutes=5),
        resolved_at=declared + timedelta(minutes=40),
        version=3,
    )


def write_history(account: StorageAccount, declared: list[datetime], first: int = 1) -> None:
    """Resolved incidents written straight into the table, as a long-running deployment holds them."""
    table = account.table("incidents")
    rows = [_incident_entity(old_incident(first + n, moment)) for n, moment in enumerate(declared)]
    for start in range(0, len(rows), 100):
        table.submit_transaction([("upsert", row) for row in rows[start : start + 100]])
    table.submit_transaction([("upsert", _counter_entity(first + len(rows) - 1)), ("upsert", _open_complete())])


def change(store: IncidentStore, ident: str, **changes: object) -> Incident:
    for _ in attempts():
        stored = store.load_incident(ident)
        assert stored is not None
        changed = stored.incident.changed(utc_now(), **changes)
        try:
            store.save_incident(changed, stored.etag, was_open=stored.incident.is_open)
        except IncidentChanged:
            continue
        return changed
    raise AssertionError("the incident kept changing")


def month_page(moment: datetime) -> str:
    return f"history/{moment.astimezone(UTC):%Y-%m}.html"


def body(account: StorageAccount, path: str) -> str:
    return blob(account, path).download_blob().readall().decode()


def reads_history(seen: list[tuple[str, str, str]], first_on_instance: bool = False) -> list[tuple[str, str, str]]:
    """Requests that grow with the history: a scan of the incidents, a listing of the whole site, or a read of every
    maintenance (but by a publisher's first render, which then reads only those changed since)."""
    return [
        r
        for r in seen
        if "RowKey ge 'INC-'" in r[2]
        or ("RowKey ge 'MNT-'" in r[2] and "updated_at ge" not in r[2] and not first_on_instance)
        or ("$web" in r[1] and "comp=list" in r[2])
    ]


def write_maintenances(account: StorageAccount, count: int, updated: datetime | None = None) -> None:
    """Maintenances long over, written straight into the table, numbered after those there (last changed when they
    were declared, or at `updated`)."""
    table = account.table("maintenances")
    first = len(MaintenanceStore(account).list_maintenances()) + 1
    rows = []
    for number in range(first, first + count):
        start = NOW - timedelta(days=400, hours=-3 * number)
        end = start + timedelta(hours=1)
        window = Maintenance(f"MNT-{number}", "Database upgrade", ("Checkout",), start, end, start, updated or start)
        rows.append(("upsert", _maintenance_entity(window)))
    for start in range(0, len(rows), 100):
        table.submit_transaction(rows[start : start + 100])


def test_a_change_to_an_old_incident_renders_its_page_and_its_month_page_only_on_another_instance(
    storage_account, azurite
):
    eight_months, six_months = NOW - timedelta(days=240), NOW - timedelta(days=180)
    write_history(storage_account, [eight_months, eight_months + timedelta(days=1), six_months])
    SitePublisher(storage_account, context.site_settings).render_and_publish()  # the site as published before
    assert "Critical impact" in body(storage_account, month_page(eight_months))

    # INC-1 is corrected to SEV2 months after it ended: its settled row says so.
    change(IncidentStore(storage_account), "INC-1", severity=2)
    requests = Requests()
    account = StorageAccount(azurite.connection_string, on_request=requests)
    report = SitePublisher(account, context.site_settings).render_and_publish()

    assert [path for path in report.written if path.startswith("incidents/")] == [page_of("INC-1")]
    assert [path for path in report.written if path.startswith("history/")] == [month_page(eight_months)]
    assert report.written[-1] == "index.html"
    listed = body(storage_account, month_page(eight_months))
    first, second = (public_id(ident, context.site_settings().id_key) for ident in ("INC-1", "INC-2"))
    # The month page lists both of its incidents: INC-1 as it is now, INC-2 from the month's list.
    assert listed.index(second) < listed.index(first)  # newest first
    assert "Major impact" in listed.split(first)[1] and "Critical impact" in listed.split(second)[1]
    assert "Major impact" in body(storage_account, page_of("INC-1"))
    assert reads_history(requests.take(), first_on_instance=True) == []
    # The archive still lists both old months.
    history = body(storage_account, "history.html")
    assert month_page(eight_months) in history and month_page(six_months) in history


def test_a_publish_after_a_change_costs_the_same_storage_requests_whatever_the_history(storage_account, azurite):
    requests = Requests()
    account = StorageAccount(azurite.connection_string, on_request=requests)
    costs = []
    for history in (5, 60):
        # The history grows behind the running site (incidents two hours apart, long ago), as it does over years.
        first = len(IncidentStore(storage_account).list_incidents()) + 1
        write_history(storage_account, [NOW - timedelta(days=400, hours=-2 * n) for n in range(history)], first)
        write_maintenances(storage_account, history)
        SitePublisher(storage_account, context.site_settings).render_and_publish()
        opened = declare(IncidentStore(storage_account), severity=1)
        publisher = SitePublisher(account, context.site_settings)
        publisher.render_and_publish()  # this instance's first publish
        post_update(IncidentStore(storage_account), opened.id, "We are rolling back the release.")
        write_maintenances(storage_account, 1, utc_now())  # changed since: read, and shown
        windows = len(MaintenanceStore(storage_account).list_maintenances())
        requests.take()
        report = publisher.render_and_publish()
        seen = requests.take()
        assert [path for path in report.written if path.startswith("incidents/")] == [page_of(opened.id)]
        assert reads_history(seen) == []
        listed = json.loads(body(storage_account, "api/v2/scheduled-maintenances.json"))["scheduled_maintenances"]
        assert [m["id"] for m in listed] == [f"MNT-{n}" for n in range(windows, windows - RECENT_LIMIT, -1) if n > 0]
        costs.append(len(seen))
    assert costs[0] == costs[1], costs


def test_an_incident_the_policy_no_longer_shows_after_a_change_is_withdrawn_by_the_next_publish(storage_account):
    store = IncidentStore(storage_account)
    declare(store, severity=1)  # public at once
    SitePublisher(storage_account, context.site_settings).render_and_publish()
    assert blob(storage_account, page_of("INC-1")).exists()

    change(store, "INC-1", severity=4)  # a SEV4 is public only once a public update was posted: none was
    SitePublisher(storage_account, context.site_settings).render_and_publish()
    assert_withdrawn(storage_account, "INC-1", utc_now())


@pytest.mark.parametrize("whole", [False, True], ids=["after a change", "render-site"])
def test_a_withdrawn_incident_that_was_alone_in_its_month_leaves_its_month_page(storage_account, whole):
    store = IncidentStore(storage_account)
    declare(store, severity=1)
    SitePublisher(storage_account, context.site_settings).render_and_publish()
    assert public_id("INC-1", context.site_settings().id_key) in body(storage_account, month_page(utc_now()))

    change(store, "INC-1", severity=4)
    SitePublisher(storage_account, context.site_settings).render_and_publish(whole=whole)
    assert_withdrawn(storage_account, "INC-1", utc_now())
    assert "No incidents reported." in body(storage_account, month_page(utc_now()))


def test_a_full_render_rewrites_the_list_of_a_month_it_emptied_so_a_later_change_never_brings_one_back(
    storage_account,
):
    long_ago = NOW - timedelta(days=240)
    write_history(storage_account, [long_ago, long_ago + timedelta(hours=2)])
    store = IncidentStore(storage_account)
    change(store, "INC-2", severity=4)  # not public: no public update was posted
    SitePublisher(storage_account, context.site_settings).render_and_publish(whole=True)
    change(store, "INC-1", severity=4)  # now neither is public
    SitePublisher(storage_account, context.site_settings).render_and_publish(whole=True)
    assert store.forget_settled(utc_now() + timedelta(seconds=1)) == 2  # no later render will look back to them

    change(store, "INC-2", severity=1)  # public again: the change renders the month page from the month's list
    SitePublisher(storage_account, context.site_settings).render_and_publish()
    listed = body(storage_account, month_page(long_ago))
    first, second = (public_id(ident, context.site_settings().id_key) for ident in ("INC-1", "INC-2"))
    assert second in listed and first not in listed
    assert_withdrawn(storage_account, "INC-1", long_ago)


def test_a_full_render_that_loses_its_claim_reads_only_what_changed_since_and_shows_it(storage_account, azurite):
    write_history(storage_account, [NOW - timedelta(days=400, hours=-2 * n) for n in range(5)])
    SitePublisher(storage_account, context.site_settings).render_and_publish()
    store = IncidentStore(storage_account)
    rivals = []

    def settings_while_others_claim() -> Any:
        # Between the full render's reading of the record and its claim: a change, and a render that claims it.
        if len(rivals) < 3:
            rivals.append(change(store, f"INC-{len(rivals) + 1}", severity=4))
            SitePublisher(storage_account, context.site_settings).render_and_publish()
        return context.site_settings()

    requests = Requests()
    account = StorageAccount(azurite.connection_string, on_request=requests)
    full = SitePublisher(account, settings_while_others_claim)
    full.render_and_publish(whole=True)

    scans = [r for r in requests.take() if "RowKey ge 'INC-'" in r[2]]
    assert (len(rivals), full.renders, len(scans)) == (3, 1, 1)  # lost three claims, read the history once
    record, _etag = read_record(storage_account)
    assert record is not None and (record.state, record.whole, record.published) == (5, True, True)
    for ident in ("INC-1", "INC-2", "INC-3"):  # what the rivals withdrew stays withdrawn
        assert_withdrawn(storage_account, ident, NOW - timedelta(days=400))
    assert blob(storage_account, page_of("INC-4")).exists()


@pytest.mark.parametrize("withdrawn", ["INC-63", "INC-1"], ids=["the last to touch a component", "the oldest"])
def test_after_a_withdrawal_a_publish_after_the_change_shows_what_a_full_render_of_the_store_shows(
    storage_account, withdrawn
):
    # INC-1 began long ago and ended after the sixty short incidents that followed it; INC-63 is the newest.
    start = NOW - timedelta(days=400)
    rows = [
        replace(old_incident(1, start), resolved_at=NOW - timedelta(days=200), updated_at=NOW - timedelta(days=200))
    ]
    rows += [old_incident(n, start + timedelta(days=1, hours=n)) for n in range(2, 63)]
    rows.append(replace(old_incident(63, NOW - timedelta(days=300)), resolved_at=NOW - timedelta(days=150)))
    table = storage_account.table("incidents")
    for first in range(0, len(rows), 50):
        table.submit_transaction([("upsert", _incident_entity(row)) for row in rows[first : first + 50]])
    table.submit_transaction([("upsert", _counter_entity(63)), ("upsert", _open_complete())])
    SitePublisher(storage_account, context.site_settings).render_and_publish()
    change(IncidentStore(storage_account), withdrawn, severity=4)

    at = utc_now() + timedelta(seconds=1)
    rendered: list[dict[str, bytes]] = []

    def keep(files: list[Any]) -> None:
        rendered.append({f.path: f.body for f in files})

    for whole in (False, True):
        SitePublisher(storage_account, context.site_settings, clock=lambda: at, before_publish=keep).render_and_publish(
            whole=whole
        )
    after_change, full = rendered
    assert "api/v2/components.json" in after_change
    assert {path: after_change[path] for path in full if path in after_change} == {
        path: full[path] for path in full if path in after_change
    }


def assert_withdrawn(account: StorageAccount, ident: str, declared: datetime) -> None:
    """Nothing published names the incident: its page, its month page, the history, the API and the feeds."""
    assert not blob(account, page_of(ident)).exists()
    public = public_id(ident, context.site_settings().id_key)
    for path in (month_page(declared), "history.html", "api/v2/summary.json", "api/v2/incidents.json"):
        assert public not in body(account, path), path
    for path in ("history.atom", "history.rss", "index.html"):
        assert public not in body(account, path), path


def test_a_render_that_claimed_a_state_and_stopped_before_publishing_is_finished_by_the_next(storage_account):
    store = IncidentStore(storage_account)
    declare(store, severity=1)
    SitePublisher(storage_account, context.site_settings).render_and_publish()
    post_update(store, "INC-1", "We are rolling back the release.")

    def stop(_files: object) -> None:
        raise RuntimeError("the instance stopped")

    with pytest.raises(RuntimeError):
        SitePublisher(storage_account, context.site_settings, before_publish=stop).render_and_publish()
    record, _etag = read_record(storage_account)
    assert record is not None and (record.state, record.published) == (2, False)  # claimed, nothing published
    assert "We are rolling back the release." not in body(storage_account, page_of("INC-1"))

    # Another instance reads the claimed state (INC-1 at its new version already) and publishes its pages too.
    report = SitePublisher(storage_account, context.site_settings).render_and_publish()
    assert page_of("INC-1") in report.written
    assert "We are rolling back the release." in body(storage_account, page_of("INC-1"))
    record, _etag = read_record(storage_account)
    assert record is not None and (record.state, record.published, record.pending) == (3, True, ())


def test_settled_rows_name_incidents_a_change_left_not_open_until_no_render_looks_back_that_far(storage_account):
    # One clock for the writer and the publisher, a day behind the machine's: the rows carry it, not the machine's.
    shift = [-timedelta(days=1)]

    def clock() -> datetime:
        return utc_now() + shift[0]

    store = IncidentStore(storage_account, clock)
    before = clock() - timedelta(seconds=1)
    declare(store, severity=1)
    declare(store, severity=1)
    assert store.settled_since(before) == []  # open incidents are in the open index instead
    post_update(store, "INC-2", "Payments work again.", status="resolved")
    assert store.settled_since(before) == ["INC-2"]
    assert store.settled_since(clock() + timedelta(seconds=1)) == []

    publisher = SitePublisher(storage_account, context.site_settings, clock=clock)
    publisher.render_and_publish()
    assert publisher.forget_settled() == 0  # the next hourly render still looks back that far
    shift[0] += HEAL_LOOKBACK + timedelta(minutes=1)
    publisher.render_and_publish()  # a record that began reading after every lookback reaches back to the row
    assert publisher.forget_settled() == 1
    assert store.settled_since(before) == []


def test_a_publish_looks_back_for_settled_rows_exactly_as_far_as_it_is_told(storage_account):
    store = IncidentStore(storage_account)
    declare(store, severity=1)
    post_update(store, "INC-1", "Payments work again.", status="resolved")
    SitePublisher(storage_account, context.site_settings).render_and_publish()
    assert "Critical impact" in body(storage_account, page_of("INC-1"))
    # A writer whose clock is a minute behind corrects INC-1 after the publish: its row says a minute before.
    change(IncidentStore(storage_account, lambda: utc_now() - timedelta(minutes=1)), "INC-1", severity=2)

    SitePublisher(storage_account, context.site_settings).render_and_publish(timedelta(0))
    assert "Critical impact" in body(storage_account, page_of("INC-1"))  # not looked back for
    SitePublisher(storage_account, context.site_settings).render_and_publish()  # SETTLED_LOOKBACK
    assert "Major impact" in body(storage_account, page_of("INC-1"))
