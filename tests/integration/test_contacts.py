"""Reaching a paged person on their phone: their notification rules (people.toml) send SMS through a local stand-in
that speaks Communication Services' documented SMS protocol (HMAC-signed, over real HTTP), with Azurite queues and
tables. The clock is a parameter: a step due in a minute is made visible at once and run with the clock a minute on.

Proves: the ladder in time (SMS at once, the next one after its delay on the `contacts` queue), each step sent once
under 50 redeliveries and 50 duplicates, throttling and outages defer (never drop), a refused channel sends the next
step at once, and an acknowledgement (Teams, SMS reply, link) stops what is still to come.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from functions import context
from shared.contacts import ack_links
from shared.contacts.contact import on_contact, start_ladder
from shared.contacts.ladder import ContactMessage
from shared.contacts.ledger import ContactLedger
from shared.core.timeutil import utc_now
from shared.incidents.store import IncidentStore
from shared.notifications.escalate import run_step
from shared.notifications.policy import FIRST, Position, StepMessage
from tests.conftest import pause_of, redeliver, running_firebell, write_config
from tests.integration import test_notifications as base
from tests.integration.test_notifications import ESCALATIONS, ONCALL, SERVICES, WEDNESDAY, notifier, open_incident, say
from tests.standins import acs_server
from tests.standins.acs_server import ACCESS_KEY, FROM_NUMBER, AcsServer

workflow = base.workflow
TIM_PHONE = "+13035550142"
PEOPLE = f"""
[[person]]
name = "Tim Jones"
email = "tim.jones@example.com"
time_zone = "America/Denver"
phone = "{TIM_PHONE}"
  [person.notify]
  high = [
    {{ channel = "teams" }},
    {{ channel = "sms" }},
    {{ channel = "sms", after_minutes = 1 }},
    {{ channel = "voice", after_minutes = 3 }},
  ]
  low = [{{ channel = "teams" }}, {{ channel = "sms", after_minutes = 10 }}]
  quiet_hours = {{ start = "22:00", end = "07:00" }}

[[person]]
name = "Larry Brown"
email = "larry.brown@example.com"

[[person]]
name = "Priya Raman"
email = "priya.raman@example.com"
phone = "+61255501234"

[[person]]
name = "Aiko Tanaka"
email = "aiko.tanaka@example.com"
"""
LINK_KEY = "test-ack-link-key"


@pytest.fixture
def acs() -> Iterator[AcsServer]:
    with AcsServer() as server:
        yield server


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = write_config(
        tmp_path,
        {"services.toml": SERVICES, "people.toml": PEOPLE, "oncall.toml": ONCALL, "escalations.toml": ESCALATIONS},
    )
    return folder


@pytest.fixture
def paging(storage_account, workflow, acs, config_dir, monkeypatch) -> IncidentStore:
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("TEAMS_WORKFLOW_URL", workflow.url)
    monkeypatch.setenv("ACS_ENDPOINT", acs.endpoint)
    monkeypatch.setenv("ACS_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("ACS_FROM_NUMBER", FROM_NUMBER)
    monkeypatch.setenv("FIREBELL_ACK_LINK_KEY", LINK_KEY)
    monkeypatch.setenv("WEBSITE_HOSTNAME", "firebell.example.com")
    context.reset()
    return IncidentStore(storage_account)


def contact_texts(store: IncidentStore, ident: str) -> list[str]:
    return [event.text for event in store.timeline(ident) if event.kind.startswith("contact.")]


def page_tim(store: IncidentStore, at: datetime = WEDNESDAY) -> str:
    """Open an incident and run its first escalation step at `at`: Tim (payments primary) is paged."""
    ident, _ = open_incident(store)
    run = run_step(StepMessage(ident, "quick", FIRST, at), "step-message-1", 1, at, notifier())
    assert run.steps == [(FIRST, "paged")]
    return ident


def queued(storage_account) -> list:
    return list(storage_account.queue("contacts").peek_messages(max_messages=32))


def test_the_ladder_sends_the_sms_due_at_once_and_the_next_after_its_delay(paging, storage_account, acs):
    ident = page_tim(paging)
    (first,) = acs.sms()
    assert first.to == TIM_PHONE
    lines = first.message.split("\n")
    assert lines[:2] == ["Firebell SEV2 INC-1: checkout-latency", "Reply ACK 1 to acknowledge"]
    assert lines[2].startswith("or open https://firebell.example.com/api/ack/")
    assert contact_texts(paging, ident) == ["SMS to Tim Jones sent (high urgency, rule step 2 of 4)"]
    # The step after one minute waits on the `contacts` queue, hidden: nothing is visible yet.
    queue = storage_account.queue("contacts")
    assert (queued(storage_account), queue.get_queue_properties().approximate_message_count) == ([], 2)


def test_a_step_after_a_delay_goes_out_when_its_message_becomes_visible(paging, storage_account, acs):
    ident = page_tim(paging)
    tim = context.people().named("Tim Jones")
    steps = start_ladder(notifier(), paging.get_incident(ident), tim, "r02-s00", WEDNESDAY)  # round 2's page
    assert [(message.index, outcome) for message, outcome, _ in steps] == [(1, "sent"), (2, "queued"), (3, "queued")]
    assert pause_of(steps[2][2]) == timedelta(minutes=3)
    sent = steps[1][2]
    assert pause_of(sent) == timedelta(minutes=1)  # the queue service hides it for the rule's delay
    assert len(acs.sms()) == 2
    # A minute later (the clock moved on, the message made visible now): the SMS goes out.
    arrived = redeliver(storage_account.queue("contacts"), sent)
    assert on_contact(arrived.content.encode(), arrived.id, 1, WEDNESDAY + timedelta(minutes=1), notifier()) is None
    assert len(acs.sms()) == 3
    assert contact_texts(paging, ident)[-1] == "SMS to Tim Jones sent (high urgency, rule step 3 of 4)"


def test_each_step_is_sent_once_under_50_redeliveries_and_50_duplicates(paging, storage_account, acs):
    ident, _ = open_incident(paging)
    message = ContactMessage(ident, "Tim Jones", "r01-s00", "high", 2, "sms", WEDNESDAY + timedelta(minutes=1))
    body = json.dumps(message.to_json()).encode()
    later = WEDNESDAY + timedelta(minutes=1)
    for delivery in range(1, 51):
        assert on_contact(body, "contact-message-1", delivery, later, notifier()) is None
    for copy in range(50):
        assert on_contact(body, f"duplicate-{copy}", 1, later + timedelta(seconds=copy), notifier()) is None
    assert len(acs.sms()) == 1
    assert contact_texts(paging, ident) == ["SMS to Tim Jones sent (high urgency, rule step 3 of 4)"]


def test_an_acknowledgement_in_teams_stops_the_sms_still_to_come(paging, storage_account, acs):
    ident = page_tim(paging)
    say(paging, "ack INC-1", who="Tim Jones")
    later = ContactMessage(ident, "Tim Jones", "r01-s00", "high", 2, "sms", WEDNESDAY + timedelta(minutes=1))
    body = json.dumps(later.to_json()).encode()
    assert on_contact(body, "contact-message-2", 1, WEDNESDAY + timedelta(minutes=1), notifier()) is None
    assert len(acs.sms()) == 1  # the one sent at once, before the ack
    assert ContactLedger(storage_account).record(ident, later.key()).state == "stopped"


@pytest.mark.parametrize(("status", "retry_after", "pause"), [(429, "30", 30), (503, None, 10)])
def test_throttling_and_outages_defer_the_step_and_it_is_sent_once_later(
    paging, storage_account, acs, status, retry_after, pause
):
    ident, _ = open_incident(paging)
    message = ContactMessage(ident, "Tim Jones", "r01-s00", "high", 2, "sms", WEDNESDAY)
    acs.fail_next(status, retry_after)
    deferred = on_contact(json.dumps(message.to_json()).encode(), "contact-message-1", 1, WEDNESDAY, notifier())
    assert pause_of(deferred) == timedelta(seconds=pause)  # Retry-After wins; else the first backoff pause
    assert (acs.sms(), contact_texts(paging, ident)) == ([], [])
    # A duplicate arriving meanwhile leaves the step to the deferred message (its claim is held through the pause).
    body = json.dumps(message.to_json()).encode()
    assert on_contact(body, "duplicate", 1, WEDNESDAY + timedelta(seconds=1), notifier()) is None
    arrived = redeliver(storage_account.queue("contacts"), deferred)
    assert json.loads(arrived.content)["holder"] == "contact-message-1"
    after = WEDNESDAY + timedelta(seconds=pause)
    assert on_contact(arrived.content.encode(), arrived.id, 1, after, notifier()) is None
    assert len(acs.sms()) == 1
    assert contact_texts(paging, ident) == ["SMS to Tim Jones sent (high urgency, rule step 3 of 4)"]


def test_a_refused_sms_sends_the_next_rule_step_at_once(paging, storage_account, acs):
    acs.refuse_recipient_next(400)
    ident = page_tim(paging)
    assert acs.sms() == []
    assert contact_texts(paging, ident) == [
        "SMS to Tim Jones failed: SMS to the recipient refused with 400: Invalid To phone number format.; "
        "next: SMS at once"
    ]
    # The next step is visible now, not after its minute: it goes out at once.
    (visible,) = queued(storage_account)
    following = ContactMessage.from_json(json.loads(visible.content))
    assert (following.index, following.due) == (2, WEDNESDAY)
    assert on_contact(visible.content.encode(), visible.id, 1, WEDNESDAY, notifier()) is None
    assert len(acs.sms()) == 1


def test_without_communication_services_the_channel_fails_and_says_how_to_fix_it(paging, monkeypatch, acs):
    monkeypatch.delenv("ACS_ENDPOINT")
    context.reset()
    ident = page_tim(paging)
    assert contact_texts(paging, ident)[0] == (
        "SMS to Tim Jones failed: SMS not configured: set ACS_ENDPOINT and ACS_FROM_NUMBER (and ACS_ACCESS_KEY unless "
        "the managed identity signs in); next: SMS at once"
    )
    assert acs.statuses() == []


# --- what comes back: Event Grid and acknowledgement links ----------------------------------------------------------
SECRET = "event-grid-subscription-secret"


@pytest.fixture
def api(paging, monkeypatch) -> Iterator[str]:
    """Firebell's HTTP routes only (no queue consumers: nothing but the test acts on what is stored)."""
    monkeypatch.setenv("ACS_EVENTS_SECRET", SECRET)
    with running_firebell(background=False) as url:
        yield url


def deliver(api: str, *events: dict, secret: str | None = SECRET) -> requests.Response:
    params = {"secret": secret} if secret is not None else {}
    headers = {"aeg-event-type": "Notification"}
    return requests.post(f"{api}/acs/events", params=params, json=list(events), headers=headers, timeout=30)


def test_event_grid_validation_handshake_answers_the_code_only_with_the_secret(api):
    event = acs_server.validation_event("512d38b6-c7b8-40c8-89fe-f46f9e9622b6", WEDNESDAY)
    answer = deliver(api, event)
    assert (answer.status_code, answer.json()) == (200, {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
    for secret in (None, "guess", SECRET + "x"):
        refused = deliver(api, event, secret=secret)
        assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")


def test_an_sms_reply_acknowledges_and_stops_escalation(api, paging, storage_account, acs):
    ident = page_tim(paging)
    answer = deliver(api, acs_server.sms_received(TIM_PHONE, "Ack 1", WEDNESDAY + timedelta(seconds=40)))
    assert (answer.status_code, answer.json()) == (200, {"acknowledged": 1, "reports": 0})
    incident = paging.get_incident(ident)
    assert (incident.status, incident.acknowledged_by) == ("acknowledged", ("Tim Jones",))
    (ack,) = [event for event in paging.timeline(ident) if event.kind == "incident.acknowledged"]
    assert (ack.text, ack.source, ack.actor) == ("Tim Jones acknowledged the incident by SMS reply", "sms", "Tim Jones")
    # The next escalation step stops, and so does the SMS still to come.
    following = StepMessage(ident, "quick", Position(1, 1), WEDNESDAY + timedelta(seconds=2))
    assert run_step(following, "step-message-2", 1, WEDNESDAY + timedelta(minutes=1), notifier()).steps == [
        (Position(1, 1), "stopped")
    ]
    later = ContactMessage(ident, "Tim Jones", "r01-s00", "high", 2, "sms", WEDNESDAY + timedelta(minutes=1))
    on_contact(json.dumps(later.to_json()).encode(), "contact-2", 1, WEDNESDAY + timedelta(minutes=1), notifier())
    assert len(acs.sms()) == 1


def test_forged_or_unknown_sms_replies_change_nothing(api, paging, acs):
    ident = page_tim(paging)
    before = [event.event_id for event in paging.timeline(ident)]
    reply = acs_server.sms_received(TIM_PHONE, "ACK 1", WEDNESDAY + timedelta(seconds=40))
    assert deliver(api, reply, secret=None).status_code == 401
    assert deliver(api, reply, secret="forged").status_code == 401
    stranger = acs_server.sms_received("+15555550199", "ACK 1", WEDNESDAY + timedelta(seconds=40))
    assert deliver(api, stranger).json() == {"acknowledged": 0, "reports": 0}
    no_such = acs_server.sms_received(TIM_PHONE, "ACK 99", WEDNESDAY + timedelta(seconds=41))
    assert deliver(api, no_such).json() == {"acknowledged": 0, "reports": 0}
    elsewhere = acs_server.sms_received(TIM_PHONE, "ACK 1", WEDNESDAY, to="+18005550999")  # not our number
    assert deliver(api, elsewhere).json() == {"acknowledged": 0, "reports": 0}
    assert deliver(api, {"eventType": 7}).status_code == 400
    assert [event.event_id for event in paging.timeline(ident)] == before
    assert paging.get_incident(ident).acknowledged_by == ()


def test_delivery_reports_go_on_the_timeline_once(api, paging, acs):
    ident = page_tim(paging)
    (sms,) = acs.sms()
    report = acs_server.delivery_report(sms.message_id, TIM_PHONE, WEDNESDAY + timedelta(seconds=3, microseconds=5))
    for _ in range(3):  # Event Grid delivers at least once
        assert deliver(api, report).json() == {"acknowledged": 0, "reports": 1}
    unknown = acs_server.delivery_report("Outgoing_not-ours", TIM_PHONE, WEDNESDAY)
    assert deliver(api, unknown).json() == {"acknowledged": 0, "reports": 0}
    failed = acs_server.delivery_report(sms.message_id, TIM_PHONE, WEDNESDAY + timedelta(seconds=9), "Failed")
    deliver(api, failed)
    assert contact_texts(paging, ident)[1:] == [
        "SMS to Tim Jones delivered 10:00:03 UTC",
        "SMS to Tim Jones failed 10:00:09 UTC (Carrier rejected the message.)",
    ]


def ack_url(acs: AcsServer) -> str:
    link = acs.sms()[0].message.split("or open ")[1]
    return link.replace("https://firebell.example.com/api", "")


def test_a_one_time_link_acknowledges_once_after_its_page_is_confirmed(api, paging, acs):
    ident = page_tim(paging, utc_now())  # the link's lifetime runs on the wall clock the route reads
    path = ack_url(acs)
    shown = requests.get(f"{api}{path}", timeout=30)  # a phone previewing the link changes nothing
    assert shown.status_code == 200 and "Acknowledge INC-1 as Tim Jones?" in shown.text and "<form" in shown.text
    assert paging.get_incident(ident).acknowledged_by == ()
    done = requests.post(f"{api}{path}", timeout=30)
    assert done.status_code == 200 and "Tim Jones acknowledged the incident" in done.text
    (ack,) = [event for event in paging.timeline(ident) if event.kind == "incident.acknowledged"]
    assert (ack.text, ack.source) == ("Tim Jones acknowledged the incident by acknowledgement link", "ack-link")
    again = requests.post(f"{api}{path}", timeout=30)
    assert (again.status_code, again.json()["detail"]) == (401, "this acknowledgement link was used already")
    in_browser = requests.post(f"{api}{path}", headers={"Accept": "text/html"}, timeout=30)
    assert in_browser.status_code == 401 and "used already" in in_browser.text and "<form" not in in_browser.text
    assert requests.get(f"{api}{path}", timeout=30).status_code == 401


def test_forged_and_expired_links_are_refused(api, paging, acs):
    ident = page_tim(paging, utc_now())
    path = ack_url(acs)
    payload, signature = path.removeprefix("/ack/").split(".")
    forged = f"/ack/{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    expired = "/ack/" + ack_links.issue(ident, "Tim Jones", WEDNESDAY - timedelta(days=2), LINK_KEY.encode())
    other_key = "/ack/" + ack_links.issue(ident, "Tim Jones", utc_now(), b"another key")
    for bad in (forged, expired, other_key, "/ack/nonsense", "/ack/" + "A" * 700):
        answer = requests.post(f"{api}{bad}", timeout=30)
        assert answer.status_code == 401, bad
    assert paging.get_incident(ident).acknowledged_by == ()


def test_an_escalation_step_redelivered_50_times_texts_once(paging, storage_account, acs):
    ident = page_tim(paging)
    step = StepMessage(ident, "quick", FIRST, WEDNESDAY)
    for delivery in range(2, 52):
        assert (
            run_step(step, "step-message-1", delivery, WEDNESDAY + timedelta(seconds=delivery), notifier()).steps == []
        )
    assert len(acs.sms()) == 1
    assert storage_account.queue("contacts").get_queue_properties().approximate_message_count == 2  # SMS, call


# --- voice: Call Automation ------------------------------------------------------------------------------------------
def call_tim(paging, api: str, acs: AcsServer) -> tuple[str, str]:
    """Tim is paged and his voice step (after 3 minutes) runs: the call is placed; returns (incident, call id)."""
    ident = page_tim(paging)
    voice = ContactMessage(ident, "Tim Jones", "r01-s00", "high", 3, "voice", WEDNESDAY + timedelta(minutes=3))
    body = json.dumps(voice.to_json()).encode()
    assert on_contact(body, "contact-voice", 1, WEDNESDAY + timedelta(minutes=3), notifier()) is None
    (create,) = acs.calls()
    assert create.action == "create"
    assert create.body["targets"] == [
        {"kind": "phoneNumber", "rawId": f"4:{TIM_PHONE}", "phoneNumber": {"value": TIM_PHONE}}
    ]
    assert create.body["sourceCallerIdNumber"] == {"value": FROM_NUMBER}
    assert create.body["callbackUri"] == f"https://firebell.example.com/api/acs/calls?secret={SECRET}"
    assert contact_texts(paging, ident)[-1] == "voice call to Tim Jones sent (high urgency, rule step 4 of 4)"
    return ident, create.call_id


def call_event(api: str, *events: dict, secret: str | None = SECRET) -> requests.Response:
    params = {"secret": secret} if secret is not None else {}
    return requests.post(f"{api}/acs/calls", params=params, json=list(events), timeout=30)


def test_a_call_speaks_the_incident_and_pressing_1_acknowledges(api, paging, acs):
    ident, call_id = call_tim(paging, api, acs)
    at = WEDNESDAY + timedelta(minutes=3, seconds=12)
    answered = call_event(api, acs_server.call_connected(call_id, "", at))
    assert answered.json() == {"acknowledged": 0, "asked": 1, "escalated": 0}
    ask = acs.calls()[1]
    assert (ask.action, ask.call_id) == ("recognize", call_id)
    assert ask.body["playPrompt"]["text"]["text"] == (
        "This is Firebell. SEV2 incident 1: checkout-latency. Press 1 to acknowledge. Press 2 to escalate to the "
        "next person."
    )
    assert ask.body["recognizeOptions"]["dtmfOptions"]["maxTonesToCollect"] == 1
    pressed = call_event(api, acs_server.recognize_completed(call_id, "one", at + timedelta(seconds=9)))
    assert pressed.json() == {"acknowledged": 1, "asked": 0, "escalated": 0}
    assert paging.get_incident(ident).acknowledged_by == ("Tim Jones",)
    (ack,) = [event for event in paging.timeline(ident) if event.kind == "incident.acknowledged"]
    assert (ack.text, ack.source) == ("Tim Jones acknowledged the incident by keypress on a call", "voice")
    assert "voice call to Tim Jones answered 10:03:12 UTC" in contact_texts(paging, ident)
    assert [call.action for call in acs.calls()] == ["create", "recognize", "hangup"]


def test_pressing_2_runs_the_next_escalation_step_now(api, paging, storage_account, acs):
    ident, call_id = call_tim(paging, api, acs)
    at = WEDNESDAY + timedelta(minutes=3, seconds=20)
    call_event(api, acs_server.call_connected(call_id, "", at))
    pressed = call_event(api, acs_server.recognize_completed(call_id, "two", at))
    assert pressed.json() == {"acknowledged": 0, "asked": 0, "escalated": 1}
    visible = [json.loads(m.content) for m in storage_account.queue("escalations").peek_messages(max_messages=32)]
    assert [StepMessage.from_json(doc).position for doc in visible] == [Position(1, 1)]  # now, not after its wait
    assert "Tim Jones asked to escalate by keypress on a call" in [e.text for e in paging.timeline(ident)]
    assert paging.get_incident(ident).acknowledged_by == ()


def test_forged_or_foreign_call_events_change_nothing(api, paging, acs):
    ident, call_id = call_tim(paging, api, acs)
    before = [event.event_id for event in paging.timeline(ident)]
    press = acs_server.recognize_completed(call_id, "one", WEDNESDAY + timedelta(minutes=4))
    assert call_event(api, press, secret=None).status_code == 401
    assert call_event(api, press, secret="forged").status_code == 401
    stranger = acs_server.recognize_completed("7e1f0c7a-0000-4000-8000-000000000000", "one", WEDNESDAY)
    assert call_event(api, stranger).json() == {"acknowledged": 0, "asked": 0, "escalated": 0}
    assert call_event(api, {"type": "Microsoft.Communication.CallConnected", "data": {}}).status_code == 400
    assert [event.event_id for event in paging.timeline(ident)] == before
    assert [call.action for call in acs.calls()] == ["create"]


# --- test-page ------------------------------------------------------------------------------------------------------
def test_a_test_page_goes_through_every_channel_of_the_persons_rules(api, paging, workflow, acs, monkeypatch):
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", "test-key")
    answer = requests.post(
        f"{api}/test-page",
        json={"person": "tim.jones@example.com"},
        timeout=30,
        headers={"x-functions-key": "test-key"},
    )
    assert answer.status_code == 200
    result = answer.json()
    assert result["person"] == "Tim Jones"
    assert [(c["channel"], c["outcome"]) for c in result["channels"]] == [
        ("teams", "sent"),
        ("sms", "sent"),
        ("voice", "sent"),
    ]
    (card,) = workflow.delivered()
    assert card.card["body"][0]["text"] == (
        "Firebell test page for <at>Tim Jones</at>: this is how a page reaches you in Teams. No action needed."
    )
    (sms,) = acs.sms()
    assert (sms.to, sms.message) == (
        TIM_PHONE,
        "Firebell test page: this number reaches you when you are paged. No action needed.",
    )
    (call,) = acs.calls()
    # The test call says what it is and hangs up after the key; nothing is on any timeline.
    connected = call_event(api, acs_server.call_connected(call.call_id, "test", utc_now()))
    assert connected.json() == {"acknowledged": 0, "asked": 1, "escalated": 0}
    assert acs.calls()[1].body["playPrompt"]["text"]["text"].startswith("This is a Firebell test page.")
    call_event(api, acs_server.recognize_completed(call.call_id, "one", utc_now()))
    assert [c.action for c in acs.calls()] == ["create", "recognize", "hangup"]
    assert paging.list_incidents() == []


def test_a_test_page_names_what_is_not_configured_and_refuses_strangers(api, paging, workflow, monkeypatch):
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", "test-key")
    monkeypatch.delenv("ACS_ENDPOINT")
    headers = {"x-functions-key": "test-key"}
    answer = requests.post(f"{api}/test-page", json={"person": "Tim Jones"}, headers=headers, timeout=30).json()
    assert [(c["channel"], c["outcome"]) for c in answer["channels"]] == [
        ("teams", "sent"),
        ("sms", "not configured"),
        ("voice", "not configured"),
    ]
    stranger = requests.post(f"{api}/test-page", json={"person": "Nobody"}, headers=headers, timeout=30)
    assert (stranger.status_code, stranger.json()["detail"]) == (404, "'Nobody' is not in people.toml")
    assert requests.post(f"{api}/test-page", json={}, headers=headers, timeout=30).status_code == 400
    assert requests.post(f"{api}/test-page", json={"person": "Tim Jones"}, timeout=30).status_code == 401
    assert len(workflow.delivered()) == 1


def test_test_page_in_teams_answers_what_each_channel_did(api, paging, workflow, acs, monkeypatch):
    from tests.conftest import TEAMS_TOKEN
    from tests.integration.test_teams_chatops import say as say_in_teams

    monkeypatch.setenv("TEAMS_OUTGOING_WEBHOOK_TOKEN", TEAMS_TOKEN)
    reply = say_in_teams(f"{api}/teams", "test-page Tim Jones", name="Larry Brown")
    lines = reply["text"].split("\n")
    assert lines[0] == "Test page for Tim Jones:"
    assert [line.split(" (")[0] for line in lines[2:]] == ["- teams: sent", "- sms: sent", "- voice: sent"]
    assert TIM_PHONE not in reply["text"]  # a channel is not told anyone's number
    assert (len(workflow.delivered()), len(acs.sms()), len(acs.calls())) == (1, 1, 1)
    guest = say_in_teams(f"{api}/teams", "test-page Tim Jones", name="Someone Else")
    assert guest["text"] == (
        "Only people listed in people.toml may `test-page`; Someone Else is not in people.toml. Nothing was changed."
    )
    assert len(acs.sms()) == 1  # a guest's test page sends nothing
    unknown = say_in_teams(f"{api}/teams", "test-page Nobody", name="Larry Brown")
    assert unknown["text"] == "'Nobody' is not in people.toml: nothing was sent."


def test_an_outage_longer_than_the_bound_fails_the_channel_and_sends_the_next_step_at_once(
    paging, storage_account, acs
):
    ident, _ = open_incident(paging)
    message = ContactMessage(ident, "Tim Jones", "r01-s00", "high", 2, "sms", WEDNESDAY)
    # Deferred through 45 minutes of outage already: this attempt is the last that waits.
    deferred = {**message.to_json(), "deferrals": 9, "first_failure": "2026-12-02T10:00:00.000Z", "holder": "m-1"}
    acs.fail_next(503)
    later = WEDNESDAY + timedelta(minutes=46)
    assert on_contact(json.dumps(deferred).encode(), "m-9", 1, later, notifier()) is None
    assert contact_texts(paging, ident) == [
        "SMS to Tim Jones failed: HTTP 503 from Communication Services SMS; gave up after the outage bound; "
        "next: voice call at once"
    ]
    (visible,) = queued(storage_account)
    assert ContactMessage.from_json(json.loads(visible.content)).channel == "voice"
