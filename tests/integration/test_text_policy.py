"""Every string from outside passes one text policy, and every row fits Azure Tables — end to end over real HTTP
and Azurite. Azurite does not enforce the 64 KiB property limit, so stored sizes are measured here as Azure counts
them (UTF-16), against rows that would break the limit without the bounds."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET

import pytest

from functions import context
from shared.core.entity_bounds import MAX_ENTITY_BYTES, MAX_PROPERTY_BYTES, entity_bytes
from shared.core.text import first_unsafe
from shared.incidents.store import IncidentStore
from shared.notifications import cards
from shared.statuspage.publisher import SitePublisher
from shared.statuspage.web_store import WEB_CONTAINER
from tests.conftest import sample_json
from tests.integration.test_incidents_api import DECLARATION, KEY, call
from tests.integration.test_statuspage import declare, page_of, post_update
from tests.integration.test_teams_chatops import say

TABLES = ("incidents", "timeline", "alerts")
FORBIDDEN_IN_PUBLIC = ("\ufffe", "\uffff", "\u202e", "\ud800")


@pytest.fixture
def api(firebell, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    return firebell


def stored_rows(account) -> list[dict]:
    return [entity for name in TABLES for entity in account.table(name).list_entities()]


def assert_within_azure_limits(rows: list[dict]) -> None:
    for row in rows:
        for name, value in row.items():
            if isinstance(value, str):
                assert len(value.encode("utf-16-le")) <= MAX_PROPERTY_BYTES, (row["RowKey"], name)
                assert first_unsafe(value) is None, (row["RowKey"], name)
        assert entity_bytes(row) <= MAX_ENTITY_BYTES, row["RowKey"]


def big_alert() -> bytes:
    """A real log search alert (57_test_action_log_alert_v2) with 20 long targets and configuration items, long
    links, a long description and an over-long rule name, in scripts whose JSON escapes cost 6 units a character."""
    document = sample_json("57_test_action_log_alert_v2.json")
    essentials = document["data"]["essentials"]
    essentials["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid4()}"
    essentials["alertRule"] = "checkout 🔥 " + "漢" * 3000
    essentials["alertTargetIDs"] = [
        f"/subscriptions/s/resourcegroups/test-RG/providers/microsoft.compute/virtualmachines/{n}-" + "漢字" * 600
        for n in range(20)
    ]
    essentials["configurationItems"] = [f"vm-{n}-" + "é" * 1500 for n in range(20)]
    essentials["description"] = "Heartbeat missing. " + "d" * 30_000
    essentials["investigationLink"] = "https://portal.azure.com/#investigate/" + "q" * 4000
    (criterion,) = document["data"]["alertContext"]["condition"]["allOf"]
    document["data"]["alertContext"]["condition"]["allOf"] = [
        {**criterion, "linkToFilteredSearchResultsUI": f"https://portal.azure.com/#search/{n}/" + "s" * 4050}
        for n in range(6)
    ]
    return json.dumps(document, ensure_ascii=False).encode()


def test_an_alert_with_twenty_long_targets_and_long_links_opens_one_complete_incident_within_the_limits(
    api, storage_account
):
    body = big_alert()
    targets = json.loads(body)["data"]["essentials"]["alertTargetIDs"]
    assert len(json.dumps(targets).encode("utf-16-le")) > MAX_PROPERTY_BYTES  # as stored before: over the limit
    answer = call("POST", f"{api}/alerts", data=body)
    assert answer.status_code == 202, answer.text
    assert (answer.json()["outcome"], answer.json()["incident"]) == ("opened", "INC-1")

    store = IncidentStore(storage_account)
    incident = store.get_incident("INC-1")
    assert incident.title.startswith("checkout 🔥 漢漢") and incident.title.endswith(" characters]")
    # Bounds count UTF-16 units, as Azure Tables does: the emoji takes two.
    assert (len(incident.title.encode("utf-16-le")), len(incident.description)) == (2 * 1024, 2000)
    (opening,) = store.timeline("INC-1")
    assert opening.kind == "alert.fired"
    assert len(opening.data["targets"]) == 20 and all("… [cut: " in target for target in opening.data["targets"])
    labels = ["Alert in Azure portal", "Investigate in Azure portal"] + ["Search results"] * 3
    assert [link["label"] for link in opening.data["links"]] == labels
    assert [page.incident_id for page in store.pages_due("INC-1")] == ["INC-1"]  # the page is due
    assert_within_azure_limits(stored_rows(storage_account))


def test_a_lone_surrogate_in_every_alert_field_gets_202_clean_stored_text_and_a_card_that_encodes(api, storage_account):
    document = sample_json("59_test_action_metric_static_threshold.json")
    essentials = document["data"]["essentials"]
    essentials.update(
        alertRule="cpu \ud800 high \ufffe\u202e",
        description="half a pair \udbff",
        monitoringService="Platform\udc00",
        alertTargetIDs=["/subscriptions/s/resourcegroups/test-RG/x\ud800"],
        configurationItems=["vm\ud800"],
    )
    document["data"]["customProperties"] = {"service\ud800": "checkout\ud800"}
    body = json.dumps(document).encode()  # ASCII with "\ud800" escapes: valid JSON, and json.loads accepts it
    assert b"\\ud800" in body
    answer = call("POST", f"{api}/alerts", data=body)
    assert answer.status_code == 202, answer.text

    store = IncidentStore(storage_account)
    incident = store.get_incident(answer.json()["incident"])
    assert (incident.title, incident.description) == ("cpu \ufffd high \ufffd", "half a pair \ufffd")
    (opening,) = store.timeline(incident.id)
    assert opening.data["targets"] == ["/subscriptions/s/resourcegroups/test-RG/x\ufffd"]
    assert "Platform\ufffd" in opening.text
    assert_within_azure_limits(stored_rows(storage_account))
    # The card every delivery builds from the stored incident encodes (it used to fail each time, into poison).
    card = cards.paged_card(
        incident, cards.Recipient("Tim Jones"), "checkout primary, step 1 of 1", cards.IncidentLinks(None, None, None)
    )
    assert "cpu \ufffd high \ufffd" in cards.encode(card).decode("utf-8")


def test_a_lone_surrogate_in_a_teams_message_is_stored_clean(teams, storage_account):
    reply = say(teams, "declare 2 Checkout \ud800 down \u202eoops")
    assert "INC-1" in reply["text"]
    say(teams, "note INC-1 logs say \udfff and \uffff")
    store = IncidentStore(storage_account)
    assert store.get_incident("INC-1").title == "Checkout \ufffd down oops"
    note = next(event for event in store.timeline("INC-1") if event.kind == "note")
    assert "logs say \ufffd and \ufffd" in note.text
    assert_within_azure_limits(stored_rows(storage_account))


@pytest.mark.parametrize(
    ("title", "detail"),
    [
        ("Visa \ud800 fails", "title contains U+D800 (a lone surrogate)"),
        ("Visa fails \uffff", "title contains U+FFFF (a non-character)"),
        ("Visa\x1b[2J fails", "title contains the control character U+001B"),
    ],
)
def test_a_declaration_with_text_that_cannot_be_stored_is_refused_naming_the_field(api, title, detail):
    answer = call("POST", f"{api}/incidents", data=json.dumps({**DECLARATION, "title": title}))
    assert (answer.status_code, answer.json()) == (400, {"error": "invalid_input", "detail": detail})
    assert call("GET", f"{api}/incidents").json() == {"incidents": []}


def test_a_declaration_loses_its_bidi_controls_and_keeps_its_words(api):
    answer = call(
        "POST",
        f"{api}/incidents",
        json={**DECLARATION, "title": "Visa \u202eslaiaf\u202c (\u05d5\u05d9\u05d6\u05d4\u200f)"},
    )
    assert answer.status_code == 201
    assert answer.json()["title"] == "Visa slaiaf (\u05d5\u05d9\u05d6\u05d4)"


def test_characters_xml_cannot_carry_never_reach_the_feeds_or_the_public_page(storage_account):
    store = IncidentStore(storage_account)
    declare(store)
    post_update(store, "INC-1", "Payments recovering")
    # Rows written before the text policy: the characters go into the table as they are, past the store's guard.
    timeline = storage_account.table("timeline")
    (update,) = [row for row in timeline.list_entities() if row["kind"] == "update.posted"]
    words = "Payments \ufffe recovering \uffff \u202ereversed"
    timeline.update_entity({**update, "data": json.dumps({"status": "identified", "public_text": words})})
    incidents = storage_account.table("incidents")
    row = incidents.get_entity("incident", "INC-1")
    incidents.update_entity({**row, "latest_update": words, "title": "Internal \ufffe\u202e"})

    SitePublisher(storage_account, context.site_settings).refresh()
    container = storage_account.container(WEB_CONTAINER)
    published = {
        path: container.get_blob_client(path).download_blob().readall().decode("utf-8")
        for path in ("history.atom", "history.rss", "index.html", page_of("INC-1"), "api/v2/incidents.json")
    }
    for path, text in published.items():
        assert not any(char in text for char in FORBIDDEN_IN_PUBLIC), path
        assert "Payments \ufffd recovering \ufffd reversed" in text or path == "index.html", path
    for feed in ("history.atom", "history.rss"):
        ET.fromstring(published[feed].encode())  # noqa: S314 (our own output): a well-formed XML document
