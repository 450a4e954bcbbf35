"""Teams ChatOps over real HTTP: the real FunctionApp in an in-process devhost, Azurite behind it, messages signed
as a Teams outgoing webhook signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import tomllib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError

from shared.core.timeutil import iso, utc_now
from shared.incidents.store import IncidentStore
from tests.conftest import ROOT, SAMPLES, recorded_kinds, wait_until
from tests.conftest import TEAMS_TOKEN as TOKEN

SAMPLE = SAMPLES / "teams" / "outgoing_sample.json"


def signature(body: bytes, token: str = TOKEN) -> str:
    digest = hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()
    return f"HMAC {base64.b64encode(digest).decode()}"


PEOPLE = {entry["name"]: entry for entry in tomllib.loads((ROOT / "config" / "people.toml").read_text())["person"]}


def sender(name: str) -> dict[str, str]:
    """`from` as Teams sends it: a person in config/people.toml with the ids listed there, anyone else a guest."""
    person = PEOPLE.get(name, {})
    ids = {"id": person.get("teams_id", f"29:{name}")}
    if "aad_object_id" in person:
        ids["aadObjectId"] = person["aad_object_id"]
    return {**ids, "name": name}


def activity(
    text: str, name: str = "Tim Jones", message_id: str = "1", sent_at: datetime | None = None, **sent_by: str
) -> bytes:
    """A signed-to-be activity from `name`; `sent_by` replaces parts of `from` (an impostor's own ids)."""
    document = json.loads(SAMPLE.read_text())
    document.update(id=message_id, text=f"<at>Firebell</at> {text}", **{"from": {**sender(name), **sent_by}})
    document["timestamp"] = iso(sent_at or utc_now())  # as Teams stamps a message it delivers now
    return json.dumps(document).encode()


def say(url: str, text: str, name: str = "Tim Jones", message_id: str | None = None) -> dict:
    body = activity(text, name, message_id or f"{name}-{text}")
    answer = requests.post(url, data=body, headers={"Authorization": signature(body)}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_published_test_vector_verifies_end_to_end(teams, monkeypatch):
    monkeypatch.setenv("TEAMS_OUTGOING_WEBHOOK_TOKEN", "vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA=")
    body = SAMPLE.read_bytes()
    answer = requests.post(
        teams, data=body, headers={"Authorization": "HMAC uv3Eoun1NKTu5wt0HBBeSzJ6djSt18pguvNl6mRRYDU="}, timeout=30
    )
    # The signature verifies (not a 401), but Microsoft signed it in 2017: a replay that old is refused.
    assert (answer.status_code, answer.json()["type"]) == (200, "message")
    assert answer.json()["text"] == (
        "This message was sent at 2017-02-01T21:10:07.437Z, more than 5 minutes ago; Firebell acts only on fresh "
        "messages and did nothing. Please say it again."
    )


@pytest.mark.parametrize(
    "authorization", [None, "HMAC ", "Bearer abc", "HMAC uv3Eoun1NKTu5wt0HBBeSzJ6djSt18pguvNl6mRRYDU=", "HMAC %%%"]
)
def test_missing_malformed_or_forged_signatures_get_401_and_record_nothing(teams, storage_account, authorization):
    body = activity("declare 1 Everything is on fire")
    headers = {"Authorization": authorization} if authorization else {}
    answer = requests.post(teams, data=body, headers=headers, timeout=30)
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
    assert TOKEN not in answer.text
    assert IncidentStore(storage_account).list_incidents() == []


def test_without_a_configured_token_teams_gets_503_not_configured(teams, monkeypatch):
    monkeypatch.setenv("TEAMS_OUTGOING_WEBHOOK_TOKEN", "")
    body = activity("list")
    answer = requests.post(teams, data=body, headers={"Authorization": signature(body)}, timeout=30)
    assert answer.status_code == 503 and "TEAMS_OUTGOING_WEBHOOK_TOKEN" in answer.json()["detail"]


def test_a_responder_drives_an_incident_from_declaration_to_resolution(teams, storage_account):
    store = IncidentStore(storage_account)
    declared = say(teams, "declare 2 Checkout payments failing")
    assert declared["text"].startswith("**INC-1** [SEV2] declared by Tim Jones: Checkout payments failing.")
    assert "is incident commander" not in say(teams, "ack INC-1")["text"]
    commander = say(teams, "role INC-1 commander <at>Larry Brown</at>")
    assert commander["text"].startswith("**INC-1**: Larry Brown is incident commander. Lead the response")
    refused = say(teams, "role INC-1 ic Priya Raman", name="Priya Raman")
    assert refused["text"] == (
        "**INC-1**: Larry Brown is incident commander of INC-1; command changes hands explicitly: handoff INC-1 "
        "Priya Raman"
    )
    say(teams, "role INC-1 comms Priya Raman")
    update = say(
        teams, "update INC-1 identified Card payments fail; rolling back. Next update in 30 min", "Priya Raman"
    )
    assert "public update posted (identified)" in update["text"]
    say(teams, "INC-1 the rollback is at 40%")
    card = say(teams, "status INC-1")["attachments"][0]["content"]
    facts = {fact["title"]: fact["value"] for fact in card["body"][-1]["facts"]}
    assert (facts["Status"], facts["Incident commander"], facts["Communication coordinator"]) == (
        "identified",
        "Larry Brown",
        "Priya Raman",
    )
    assert [a["type"] for a in card["actions"]] == ["Action.OpenUrl"] * len(card["actions"])
    say(teams, "handoff INC-1 Priya Raman", name="Larry Brown")
    say(teams, "action INC-1 alert on card processor error rate")
    say(teams, "resolve INC-1 rolled back build 4711")
    assert say(teams, "update INC-1 monitoring still watching", "Priya Raman")["text"] == (
        "**INC-1**: INC-1 is resolved; reopen it before posting updates"
    )
    incident = store.get_incident("INC-1")
    assert (incident.status, incident.acknowledged_by, incident.latest_update) == (
        "resolved",
        ("Tim Jones",),
        "Card payments fail; rolling back. Next update in 30 min",
    )
    assert dict(incident.roles) == {"commander": "Priya Raman", "comms": "Priya Raman"}
    assert incident.next_update_at is not None and incident.mitigated_at == incident.resolved_at is not None
    kinds = recorded_kinds(store.timeline("INC-1"))
    assert kinds == [
        "incident.declared",
        "incident.acknowledged",
        "role.assigned",
        "chat.message",  # the refused assignment is on the record too
        "role.assigned",
        "update.posted",
        "note",
        "chat.message",  # status
        "role.handed_off",
        "action.added",
        "status.changed",
        "chat.message",  # the refused update after resolution
    ]
    public = [event for event in store.timeline("INC-1") if event.public]
    assert [(e.kind, e.data["public_text"]) for e in public] == [
        ("update.posted", "Card payments fail; rolling back. Next update in 30 min")
    ]


def test_twenty_people_acting_at_once_all_land_on_the_timeline_and_the_state_is_consistent(
    teams, storage_account, tmp_path, monkeypatch
):
    people = [f"Responder {n}" for n in range(20)]
    # Acknowledging takes a person in people.toml: twenty more of them, listed by name only.
    folder = tmp_path / "config"
    shutil.copytree(ROOT / "config", folder)
    listed = "".join(f'\n[[person]]\nname = "{name}"\n' for name in people)
    (folder / "people.toml").write_text((ROOT / "config" / "people.toml").read_text() + listed)
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(folder))
    say(teams, "declare 1 Database down")
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda name: say(teams, "ack INC-1", name=name), people))
    incident = IncidentStore(storage_account).get_incident("INC-1")
    assert sorted(incident.acknowledged_by) == sorted(people)  # nobody's acknowledgement was lost
    assert incident.status == "acknowledged" and incident.version == 1 + 20
    events = IncidentStore(storage_account).timeline("INC-1")
    assert sorted(e.actor for e in events if e.kind == "incident.acknowledged") == sorted(people)
    assert sum("acknowledged the incident too" in r["text"] for r in replies) == 19


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("status INC-42", "There is no incident **INC-42**"),
        ("reslove INC-1", "did you mean `resolve`?"),
        ("sev INC-1 9", "`sev` needs"),
        ("", "Firebell understands"),
    ],
)
def test_unknown_incidents_and_commands_get_a_clear_reply(teams, text, reply):
    say(teams, "declare 3 Slow search")
    assert reply in say(teams, text)["text"]


def test_markup_in_a_note_is_stored_as_text_and_echoed_inert(teams, storage_account):
    say(teams, "declare 3 Slow search")
    answer = say(teams, "note INC-1 &lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1))")
    (note,) = [e for e in IncidentStore(storage_account).timeline("INC-1") if e.kind == "note"]
    assert note.text == "Tim Jones: <script>alert(1)</script> [x](javascript:alert(1))"
    assert answer["text"] == "**INC-1**: note recorded from Tim Jones"


def test_malformed_activities_get_400_with_the_field_named(teams):
    for body, detail in [(b"{not json", "not valid JSON"), (b'{"type": "message", "text": "hi"}', "from")]:
        answer = requests.post(teams, data=body, headers={"Authorization": signature(body)}, timeout=30)
        assert answer.status_code == 400 and detail in answer.json()["detail"]
    body = activity("note INC-1 " + "x" * 5000)
    answer = requests.post(teams, data=body, headers={"Authorization": signature(body)}, timeout=30)
    assert answer.status_code == 400 and "2000" in answer.json()["detail"]


def test_a_public_update_from_teams_reaches_the_status_page_and_a_note_does_not(teams, storage_account):
    say(teams, "declare 2 Checkout payments failing")
    say(teams, "note INC-1 primary db in westeurope is toast")
    say(teams, "update INC-1 identified We found the cause and are rolling back. Next update in 30 min")
    site = storage_account.container("$web")

    def index() -> str:
        try:
            return site.download_blob("index.html").readall().decode()
        except ResourceNotFoundError:  # not published yet
            return ""

    html = wait_until(lambda: "rolling back" in index() and index())
    assert "We found the cause and are rolling back. Next update in 30 min" in html
    assert "Next update expected by" in html and "toast" not in html


def test_a_redelivered_message_is_recorded_once_and_declares_once(teams, storage_account):
    declare = activity("declare 2 Payments failing", message_id="m-1")
    note = activity("note INC-1 checking the gateway", message_id="m-2")
    for body in (declare, declare, note, note):
        answer = requests.post(teams, data=body, headers={"Authorization": signature(body)}, timeout=30)
        assert answer.status_code == 200
    store = IncidentStore(storage_account)
    assert [i.id for i in store.list_incidents()] == ["INC-1"]
    assert recorded_kinds(store.timeline("INC-1")) == ["incident.declared", "note"]


def test_ack_after_alerts_moved_the_incident_on_records_who_answered(teams, storage_account):
    say(teams, "declare 2 Payments failing")
    say(teams, "update INC-1 monitoring A fix is deployed; watching.")  # also acknowledges, by Tim
    incident = IncidentStore(storage_account).get_incident("INC-1")
    assert (incident.status, incident.acknowledged_by) == ("monitoring", ("Tim Jones",))
    assert (
        say(teams, "ack INC-1", name="Larry Brown")["text"]
        == "**INC-1**: Larry Brown acknowledged the incident too (monitoring)"
    )


def test_people_named_in_commands_become_the_people_firebell_knows(teams, storage_account):
    say(teams, "declare 2 Payments failing")
    say(teams, "role INC-1 sme priya.raman@example.com")  # an email from people.toml
    assert "already subject-matter expert" in say(teams, "role INC-1 sme PRIYA RAMAN")["text"]
    say(teams, "role INC-1 scribe Visitor From Elsewhere")  # unknown: kept as typed
    incident = IncidentStore(storage_account).get_incident("INC-1")
    assert incident.roles == (("sme", "Priya Raman"), ("scribe", "Visitor From Elsewhere"))


def test_milestones_are_corrected_on_the_record_and_never_into_the_future(teams, storage_account):
    say(teams, "declare 2 Payments failing")
    reply = say(teams, "milestone INC-1 started 2026-11-23T08:40:00Z")
    assert reply["text"].startswith("**INC-1**: Tim Jones corrected the started milestone from ")
    assert reply["text"].endswith(" to 2026-11-23T08:40:00.000Z")
    incident = IncidentStore(storage_account).get_incident("INC-1")
    assert iso(incident.started_at) == "2026-11-23T08:40:00.000Z"
    (event,) = [e for e in IncidentStore(storage_account).timeline("INC-1") if e.kind == "milestone.corrected"]
    assert event.data["milestone"] == "started" and event.actor == "Tim Jones"
    assert "cannot be in the future" in say(teams, "milestone INC-1 resolved 2999-01-01T00:00:00Z")["text"]
