"""Scheduled maintenances through the real FunctionApp (in-process devhost, Azurite): declared, listed, cancelled,
refused when wrong, idempotent; and the status page refreshes they schedule for their start and end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from azure.functions.queue import QueueMessage

from functions import context, statuspage
from shared.catalog.services import load_catalog
from shared.core.errors import InvalidInput
from shared.core.timeutil import iso, utc_now
from shared.statuspage import maintenance_intake
from shared.statuspage.maintenance import Maintenance, cancel
from shared.statuspage.maintenance_intake import declare_maintenance
from shared.statuspage.maintenance_store import MaintenanceStore
from shared.statuspage.web_store import WEB_CONTAINER
from tests.conftest import ROOT, wait_until

KEY = "maintenance-test-key"


@pytest.fixture
def api(firebell, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    return firebell


def call(method: str, url: str, key: str | None = KEY, **kwargs) -> requests.Response:
    headers = {**({"x-functions-key": key} if key else {}), **kwargs.pop("headers", {})}
    return requests.request(method, url, headers=headers, timeout=30, **kwargs)


def published_maintenances(account) -> dict[str, str]:
    """MNT id → status, as the published scheduled-maintenances.json lists them (empty before the first publish)."""
    blob = account.container(WEB_CONTAINER).get_blob_client("api/v2/scheduled-maintenances.json")
    if not blob.exists():
        return {}
    listed = json.loads(blob.download_blob().readall())["scheduled_maintenances"]
    return {maintenance["id"]: maintenance["status"] for maintenance in listed}


def window(start_in: timedelta = timedelta(days=2), length: timedelta = timedelta(hours=2)) -> dict[str, str]:
    start = (utc_now() + start_in).replace(microsecond=0)
    return {"scheduled_for": iso(start), "scheduled_until": iso(start + length)}


def body(**changes: object) -> dict[str, object]:
    return {
        "name": "Database upgrade",
        "components": ["checkout", "Other services"],
        "description": "Payments may be slow for a few minutes.",
        **window(),
        **changes,
    }


def test_a_maintenance_is_declared_with_component_names_numbered_and_listed(api, storage_account):
    declared = body()
    first = call("POST", f"{api}/maintenances", json=declared)
    assert first.status_code == 201
    document = first.json()
    assert {k: v for k, v in document.items() if k not in ("created_at", "updated_at")} == {
        "id": "MNT-1",
        "name": "Database upgrade",
        "status": "scheduled",
        "components": ["Checkout", "Other services"],  # the service id became its public component name
        "scheduled_for": declared["scheduled_for"],
        "scheduled_until": declared["scheduled_until"],
        "description": "Payments may be slow for a few minutes.",
        "cancelled_at": None,
        "version": 1,
    }
    second = call("POST", f"{api}/maintenances", json=body(name="Network switch swap", components=["Checkout"]))
    assert (second.status_code, second.json()["id"]) == (201, "MNT-2")
    listed = call("GET", f"{api}/maintenances").json()["maintenances"]
    assert [(m["id"], m["name"], m["components"]) for m in listed] == [
        ("MNT-1", "Database upgrade", ["Checkout", "Other services"]),
        ("MNT-2", "Network switch swap", ["Checkout"]),
    ]
    assert call("GET", f"{api}/maintenances/MNT-2").json()["name"] == "Network switch swap"
    assert call("GET", f"{api}/maintenances/MNT-3").status_code == 404
    # Each declaration refreshed the status page (through the statuspage queue, run by the devhost).
    assert wait_until(lambda: published_maintenances(storage_account) == {"MNT-1": "scheduled", "MNT-2": "scheduled"})


def test_the_same_idempotency_key_gives_the_same_maintenance_with_200(api):
    headers = {"Idempotency-Key": "change-ticket-981"}
    first = call("POST", f"{api}/maintenances", json=body(), headers=headers)
    again = call("POST", f"{api}/maintenances", json=body(), headers=headers)
    other = call("POST", f"{api}/maintenances", json=body(), headers={"Idempotency-Key": "change-ticket-982"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json() == first.json()
    assert other.json()["id"] == "MNT-2"
    assert [m["id"] for m in call("GET", f"{api}/maintenances").json()["maintenances"]] == ["MNT-1", "MNT-2"]


REFUSALS = [
    (body(colour="red"), "unknown field 'colour'"),
    (body(name="Upgrade \x00"), "name contains the control character U+0000"),
    (body(name="Upgrade \ufffe"), "name contains U+FFFE (a non-character)"),  # it would break history.atom
    (body(description="Half \ud800 a pair"), "description contains U+D800 (a lone surrogate)"),
    (body(scheduled_until="9999-12-31T23:00:00-05:00"), "scheduled_until '9999-12-31T23:00:00-05:00' is out of range"),
    (body(name=42), "name must be a non-empty string, got 42"),
    ({k: v for k, v in body().items() if k != "name"}, "name must be a non-empty string, got missing"),
    (body(name="x" * 201), "name is 201 characters; the limit is 200"),
    (body(description="y" * 5000), "description is 5000 characters; the limit is 4000"),
    (body(components="Checkout"), "components must be a non-empty list of component names or service ids"),
    (body(components=[]), "components must be a non-empty list of component names or service ids"),
    (body(components=[1]), "components must be a non-empty list of component names or service ids"),
    (body(components=["Payments"]), "component 'Payments' is not on the status page"),
    # An internal service (public = false) is not on the status page either, by component or by service id.
    (body(components=["Build pipelines"]), "component 'Build pipelines' is not on the status page"),
    (body(components=["build-agents"]), "component 'build-agents' is not on the status page"),
    (body(scheduled_for="tomorrow"), "scheduled_for must be an ISO 8601 time with a zone"),
    (body(scheduled_for=1767225600), "scheduled_for must be an ISO 8601 time with a zone"),
    (body(scheduled_until="2030-01-01T10:00:00"), "scheduled_until has no time zone"),
    (body(**window(length=timedelta(0))), "scheduled_until must be after scheduled_for"),
    (body(**window(length=-timedelta(hours=1))), "scheduled_until must be after scheduled_for"),
    (body(**window(length=timedelta(days=30, seconds=1))), "a maintenance lasts at most 30 days"),
    (body(**window(start_in=-timedelta(days=1))), "scheduled_until is in the past"),
    (body(**window(start_in=timedelta(days=400))), "scheduled_for is more than a year ahead"),
]


def test_a_wrong_declaration_is_refused_with_a_clear_detail_and_nothing_is_stored(api):
    for document, detail in REFUSALS:
        answer = call("POST", f"{api}/maintenances", json=document)
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_input"), detail
        assert detail in answer.json()["detail"]
    assert call("GET", f"{api}/maintenances").json() == {"maintenances": []}
    # Not even a number was spent: the next good declaration is MNT-1.
    assert call("POST", f"{api}/maintenances", json=body()).json()["id"] == "MNT-1"


def test_malformed_bodies_and_keys_are_refused(api):
    good = json.dumps(body()).encode()
    for data, headers, detail in [
        (b"[1, 2]", {}, "body must be a JSON object, not list"),
        (b"{", {}, "body is not valid JSON"),
        (good, {"Idempotency-Key": "k" * 201}, "Idempotency-Key must be 1 to 200 characters"),
    ]:
        answer = call("POST", f"{api}/maintenances", data=data, headers={"Content-Type": "application/json", **headers})
        assert (answer.status_code, answer.json()["detail"][: len(detail)]) == (400, detail)
    assert call("GET", f"{api}/maintenances").json() == {"maintenances": []}


def test_a_maintenance_is_cancelled_once_whichever_way_it_is_asked(api, storage_account):
    call("POST", f"{api}/maintenances", json=body())
    cancelled = call("DELETE", f"{api}/maintenances/MNT-1")
    assert cancelled.status_code == 200
    document = cancelled.json()
    assert (document["status"], document["version"]) == ("completed", 2)
    assert document["cancelled_at"] is not None and document["cancelled_at"] == document["updated_at"]
    # Cancelling again (a retry, or the other route) answers the first cancellation and changes nothing.
    assert call("DELETE", f"{api}/maintenances/mnt-1").json() == document
    assert call("POST", f"{api}/maintenances/MNT-1/cancel").json() == document
    assert call("GET", f"{api}/maintenances").json()["maintenances"] == [document]
    assert wait_until(lambda: published_maintenances(storage_account) == {"MNT-1": "completed"})
    missing = call("DELETE", f"{api}/maintenances/MNT-7")
    assert (missing.status_code, missing.json()["detail"]) == (404, "there is no maintenance MNT-7")
    malformed = call("DELETE", f"{api}/maintenances/INC-1")
    assert (malformed.status_code, malformed.json()["error"]) == (400, "invalid_input")


def test_maintenances_need_the_function_key(api):
    assert call("POST", f"{api}/maintenances", key=None, json=body()).status_code == 401
    assert call("GET", f"{api}/maintenances", key="wrong").status_code == 401
    assert call("DELETE", f"{api}/maintenances/MNT-1", key=None).status_code == 401


def test_a_window_that_ended_cannot_be_cancelled():
    start = datetime(2026, 4, 1, 22, tzinfo=UTC)
    window_ = Maintenance("MNT-4", "Upgrade", ("Checkout",), start, start + timedelta(hours=1), start, start)
    with pytest.raises(InvalidInput) as refused:
        cancel(window_, start + timedelta(hours=2))
    assert refused.value.detail == "MNT-4 ended at 2026-04-01T23:00:00.000Z; there is nothing to cancel"
    during = cancel(window_, start + timedelta(minutes=10))
    assert (during.cancelled_at, during.version, during.status(start + timedelta(minutes=11))) == (
        start + timedelta(minutes=10),
        2,
        "completed",
    )


def test_the_teams_path_declares_through_the_same_core(storage_account):
    store, catalog, now = MaintenanceStore(storage_account), load_catalog(ROOT / "config"), utc_now()
    fields = {"name": "Certificate rotation", "components": ["default"], **window()}
    first = declare_maintenance(store, catalog, fields, now, idempotency_key="teams-message-17")
    again = declare_maintenance(store, catalog, fields, now, idempotency_key="teams-message-17")
    assert (first.created, again.created, again.maintenance) == (True, False, first.maintenance)
    assert first.maintenance.components == ("Other services",)
    assert store.list_maintenances() == [first.maintenance]


def test_refreshes_are_queued_for_now_and_the_window_start_and_end(storage_account):
    now = datetime.now(UTC)
    start = now + timedelta(minutes=10, seconds=0.2)
    soon = Maintenance("MNT-1", "Upgrade", ("Checkout",), start, start + timedelta(hours=1), now, now)

    def refreshes(maintenance: Maintenance, now: datetime, reason: str) -> list[timedelta]:
        return maintenance_intake.enqueue_refreshes(storage_account, maintenance, now, reason)

    assert refreshes(soon, now, "declared") == [
        timedelta(0),
        timedelta(seconds=602),  # rounded up, and a second after: never shown just before the start
        timedelta(seconds=4202),
    ]
    hour = timedelta(hours=1)
    running = Maintenance("MNT-2", "Upgrade", ("Checkout",), now - hour, now + hour, now, now)
    assert refreshes(running, now, "declared") == [
        timedelta(0),
        timedelta(seconds=3601),
    ]
    far = Maintenance("MNT-3", "Move", ("Checkout",), now + timedelta(days=20), now + timedelta(days=21), now, now)
    assert refreshes(far, now, "declared") == [
        timedelta(0),
        *[maintenance_intake.MAX_DELAY] * 2,
    ]
    assert refreshes(cancel(soon, now), now, "cancelled") == [timedelta(0)]
    queue = storage_account.queue("statuspage")
    assert queue.get_queue_properties().approximate_message_count == 9
    # Only the four immediate refreshes are visible now.
    shown = [m.content for m in queue.receive_messages(max_messages=32, visibility_timeout=1)]
    assert sorted(shown) == sorted(
        [
            '{"maintenance": "MNT-1", "version": 1, "reason": "declared"}',
            '{"maintenance": "MNT-2", "version": 1, "reason": "declared"}',
            '{"maintenance": "MNT-3", "version": 1, "reason": "declared"}',
            '{"maintenance": "MNT-1", "version": 2, "reason": "cancelled"}',
        ]
    )


def test_a_refresh_that_shows_before_its_moment_waits_again_in_the_queue_instead_of_rendering(storage_account):
    # What a window more than 7 days ahead looks like at the 7-day mark: its start is still 3 days away.
    moment = utc_now() + timedelta(days=3)
    message = f'{{"maintenance": "MNT-1", "version": 1, "reason": "starts", "at": "{iso(moment)}"}}'
    statuspage.on_change(QueueMessage(body=message.encode(), insertion_time=utc_now() - timedelta(days=7)))
    queue = storage_account.queue("statuspage")
    assert queue.get_queue_properties().approximate_message_count == 1
    assert list(queue.receive_messages()) == []  # hidden until the start
    assert context.site_publisher().renders == 0
    assert list(storage_account.container(WEB_CONTAINER).list_blobs()) == []
