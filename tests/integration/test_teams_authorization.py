"""Who may do what in Teams, and what a replayed message does — over real HTTP: the real FunctionApp in an
in-process devhost, Azurite behind it, messages signed as Teams signs them, senders as Teams identifies them.

With config/ as shipped: a Teams declaration belongs to the default service, whose roster is `platform` (Aiko Tanaka,
Larry Brown, Tim Jones, Priya Raman, Marcus Lee); Grace Okafor and Sofia García are listed but on `payments` only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from shared.core.timeutil import utc_now
from shared.incidents.store import IncidentStore
from shared.notifications.escalate import run_step
from shared.notifications.policy import Position, StepMessage
from tests.conftest import TEAMS_TOKEN, running_firebell
from tests.integration import test_notifications as base
from tests.integration.test_teams_chatops import PEOPLE, activity, say, signature

GUEST = "Visitor From Elsewhere"  # not in people.toml


def post(url: str, body: bytes) -> dict:
    answer = requests.post(url, data=body, headers={"Authorization": signature(body)}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def snapshot(store: IncidentStore, ident: str = "INC-1") -> tuple:
    """What a refused command must leave exactly as it was: the incident and what Teams wrote on its timeline (the
    background functions add their own events meanwhile: notifications not configured, here)."""
    said = [(event.event_id, event.kind, event.text) for event in store.timeline(ident) if event.source == "teams"]
    return store.get_incident(ident), said


def test_an_ack_from_an_unlisted_sender_named_like_a_listed_person_is_refused(teams, storage_account):
    store = IncidentStore(storage_account)
    say(teams, "declare 2 Checkout payments failing", "Larry Brown")
    before = snapshot(store)
    # Display name "Tim Jones", but not Tim's Teams id: someone renamed themselves, or a guest from another tenant.
    impostor = activity("ack INC-1", "Tim Jones", "m-impostor", id="29:someone-else", aadObjectId="0000-not-tim")
    assert post(teams, impostor)["text"] == (
        "**INC-1**: only people listed in people.toml may `ack`; Tim Jones (unverified) is not in people.toml. "
        "Nothing was changed."
    )
    assert snapshot(store) == before  # no event, so nothing announced either (teams.py announces events)
    assert store.get_incident("INC-1").acknowledged_by == ()  # escalation goes on: nobody has acknowledged
    # Tim himself, as Teams identifies him:
    assert (
        say(teams, "ack INC-1", "Tim Jones")["text"] == "**INC-1**: Tim Jones acknowledged the incident (acknowledged)"
    )


def test_a_listed_person_is_known_by_their_entra_object_id_whatever_their_display_name(teams, storage_account):
    say(teams, "declare 2 Checkout payments failing")
    # Priya is listed with an Entra object id; Teams shows the name she set, which Firebell does not trust.
    renamed = activity(
        "ack INC-1", "P. Raman (on leave)", "m-priya", aadObjectId=PEOPLE["Priya Raman"]["aad_object_id"]
    )
    assert post(teams, renamed)["text"] == "**INC-1**: Priya Raman acknowledged the incident (acknowledged)"
    assert IncidentStore(storage_account).get_incident("INC-1").acknowledged_by == ("Priya Raman",)


def test_a_guest_reads_but_cannot_resolve_declare_or_note(teams, storage_account):
    store = IncidentStore(storage_account)
    say(teams, "declare 2 Checkout payments failing")
    before = snapshot(store)
    assert say(teams, "resolve INC-1 fixed it", GUEST)["text"] == (
        "**INC-1**: only responders on the platform roster (Aiko Tanaka, Larry Brown, Tim Jones, Priya Raman, "
        "Marcus Lee) or people holding a role of INC-1 (nobody yet) may `resolve`; Visitor From Elsewhere is not in "
        "people.toml. Nothing was changed."
    )
    assert "may `note`" in say(teams, "note INC-1 I think it is DNS", GUEST)["text"]
    assert say(teams, "declare 1 Everything is down", GUEST)["text"] == (
        "Only people listed in people.toml may `declare`; Visitor From Elsewhere is not in people.toml. "
        "Nothing was changed."
    )
    assert snapshot(store) == before  # no event, so nothing announced either (teams.py announces events)
    assert [incident.id for incident in store.list_incidents()] == ["INC-1"]
    # Reading is for everyone.
    card = say(teams, "status INC-1", GUEST)["attachments"][0]["content"]
    assert card["body"][0]["text"] == "INC-1 [SEV2] Checkout payments failing"


def test_severity_and_resolution_belong_to_the_roster_and_the_people_holding_roles(teams, storage_account):
    store = IncidentStore(storage_account)
    say(teams, "declare 2 Checkout payments failing", "Tim Jones")
    refused = say(teams, "sev INC-1 1", "Grace Okafor")["text"]  # listed, but on payments only
    assert refused.startswith("**INC-1**: only responders on the platform roster (") and refused.endswith(
        "may `sev`. Nothing was changed."
    )
    assert store.get_incident("INC-1").severity == 2
    say(teams, "role INC-1 sme Grace Okafor", "Tim Jones")  # a role on the incident makes her one of its responders
    assert say(teams, "sev INC-1 1", "Grace Okafor")["text"] == (
        "**INC-1**: Grace Okafor changed the severity from SEV2 to SEV1"
    )
    assert store.get_incident("INC-1").severity == 1


def test_public_updates_belong_to_the_commander_and_communication_coordinator_once_assigned(teams, storage_account):
    store = IncidentStore(storage_account)
    say(teams, "declare 2 Checkout payments failing", "Tim Jones")
    # Nobody commands yet: the on-call responders speak for the incident.
    assert "public update posted" in say(teams, "update INC-1 investigating Payments fail", "Tim Jones")["text"]
    say(teams, "role INC-1 commander Larry Brown", "Tim Jones")
    latest = store.get_incident("INC-1").latest_update
    assert say(teams, "update INC-1 identified A bad deploy", "Tim Jones")["text"] == (
        "**INC-1**: only the incident commander of INC-1 (Larry Brown) or the communication coordinator of INC-1 "
        "(nobody yet) may `update`. Nothing was changed."
    )
    assert say(teams, "component INC-1 major Other services", "Tim Jones")["text"].endswith(
        "may `component`. Nothing was changed."
    )
    assert store.get_incident("INC-1").latest_update == latest == "Payments fail"
    assert "public update posted" in say(teams, "update INC-1 identified A bad deploy", "Larry Brown")["text"]
    assert store.get_incident("INC-1").latest_update == "A bad deploy"


def test_paging_others_and_overrides_belong_to_that_rosters_responders(teams, storage_account):
    say(teams, "declare 2 Checkout payments failing", "Tim Jones")
    assert say(teams, "page platform INC-1", "Sofia García")["text"].endswith("may `page`. Nothing was changed.")
    assert say(teams, "page platform INC-1", "Aiko Tanaka")["text"].startswith("**INC-1**: paging platform")
    refused = say(teams, "override payments Priya Raman now +8h", "Aiko Tanaka")["text"]
    assert refused == (
        "Only responders on the payments roster (Larry Brown, Grace Okafor, Sofia García, Tim Jones) may "
        "`override`. Nothing was changed."
    )
    assert say(teams, "oncall payments", "Aiko Tanaka")["text"].count("Priya Raman") == 0  # no override stored


def test_a_message_replayed_ten_minutes_later_changes_nothing(teams, storage_account):
    store = IncidentStore(storage_account)
    say(teams, "declare 2 Checkout payments failing")
    before = snapshot(store)
    for sent, when in ((utc_now() - timedelta(minutes=10), "ago"), (utc_now() + timedelta(minutes=10), "from now")):
        body = activity("resolve INC-1 done", "Tim Jones", f"m-{when}", sent_at=sent)
        reply = post(teams, body)["text"]
        assert reply.startswith("This message ") and f"more than 5 minutes {when}" in reply and "did nothing" in reply
    assert snapshot(store) == before


def test_the_same_signed_message_again_within_the_window_does_not_undo_what_came_after(teams, storage_account):
    store = IncidentStore(storage_account)
    say(teams, "declare 2 Checkout payments failing")
    first = activity("sev INC-1 1", "Tim Jones", "m-sev-1")
    assert post(teams, first)["text"] == "**INC-1**: Tim Jones changed the severity from SEV2 to SEV1"
    say(teams, "sev INC-1 3", "Larry Brown")
    before = snapshot(store)
    assert post(teams, first)["text"] == "**INC-1**: this message was acted on already; nothing changed again."
    assert snapshot(store) == before and store.get_incident("INC-1").severity == 3


# --- escalation: the notifications tests' configuration, with Tim listed by his Entra object id ----------------------
TIM_OBJECT_ID = "7d3e6f10-2b9a-4c55-8e4d-0a1b2c3d4e5f"
workflow, notifying = base.workflow, base.notifying


@pytest.fixture
def config_dir(tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    people = base.PEOPLE.replace('name = "Tim Jones"\n', f'name = "Tim Jones"\naad_object_id = "{TIM_OBJECT_ID}"\n')
    for name, text in (
        ("services.toml", base.SERVICES),
        ("people.toml", people),
        ("oncall.toml", base.ONCALL),
        ("escalations.toml", base.ESCALATIONS),
    ):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def teams_alone(storage_account, monkeypatch) -> Iterator[str]:
    """The Teams route of a Firebell without queue triggers or timers: the test runs the escalation steps itself,
    which a background consumer would otherwise race it to."""
    monkeypatch.setenv("TEAMS_OUTGOING_WEBHOOK_TOKEN", TEAMS_TOKEN)
    with running_firebell(background=False) as url:
        yield f"{url}/teams"


def test_an_ack_in_the_paged_persons_name_from_someone_else_does_not_stop_escalation(notifying, teams_alone, workflow):
    ident, _ = base.open_incident(notifying)  # Tim Jones is the payments primary on call: step 1 paged him
    impostor = activity("ack INC-1", "Tim Jones", "m-impostor", id="29:impostor", aadObjectId="not-tims")
    assert post(teams_alone, impostor)["text"].startswith("**INC-1**: only people listed in people.toml may `ack`")
    # The next step comes due: nobody has acknowledged, so it goes on (a gap in the secondary layer, then Priya).
    later = base.WEDNESDAY + timedelta(seconds=2)
    run = run_step(StepMessage(ident, "quick", Position(1, 1), later), "message-2", 1, later, base.notifier())
    assert run.steps == [(Position(1, 1), "skipped"), (Position(1, 2), "paged")]
    # Tim, as Teams identifies him, acknowledges: the step after that stops.
    genuine = activity("ack INC-1", "Tim Jones", "m-tim", id="29:tim", aadObjectId=TIM_OBJECT_ID)
    assert post(teams_alone, genuine)["text"] == "**INC-1**: Tim Jones acknowledged the incident (acknowledged)"
    again = base.WEDNESDAY + timedelta(seconds=4)
    run = run_step(StepMessage(ident, "quick", Position(2, 0), again), "message-3", 1, again, base.notifier())
    assert run.steps == [(Position(2, 0), "stopped")]
