"""A person's notification rules through the API (`GET`/`PUT`/`DELETE /api/people/{person}/notify`), over the real
FunctionApp in the devhost and Azurite, with Communication Services' stand-in: the same validation as people.toml
(a refused body stores nothing), an override wins over the file until deleted, and the ladder pages by it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from shared.core.timeutil import parse_instant, utc_now
from shared.oncall.notify_override import NEEDS_A_LEVEL
from shared.oncall.notify_override_store import STALE
from tests.conftest import pause_of
from tests.integration import test_contacts as contacts
from tests.integration.test_contacts import contact_texts, page_tim, queued

acs, config_dir, paging, workflow = contacts.acs, contacts.config_dir, contacts.paging, contacts.workflow
KEY = {"x-functions-key": "test-key"}
FILE_RULES = {
    "high": [
        {"channel": "teams", "after_minutes": 0},
        {"channel": "sms", "after_minutes": 0},
        {"channel": "sms", "after_minutes": 1},
        {"channel": "voice", "after_minutes": 3},
    ],
    "low": [{"channel": "teams", "after_minutes": 0}, {"channel": "sms", "after_minutes": 10}],
    "quiet_hours": {"start": "22:00", "end": "07:00"},
}
ONLY_A_LATE_CALL = {"high": [{"channel": "teams"}, {"channel": "voice", "after_minutes": 2}]}


@pytest.fixture
def api(paging, monkeypatch) -> Iterator[str]:
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", "test-key")
    with contacts.running_firebell(background=False) as url:
        yield url


def rules_of(
    api: str, person: str, method: str = "GET", body: object = None, if_match: str | None = None
) -> requests.Response:
    headers = {**KEY, **({"If-Match": if_match} if if_match is not None else {})}
    return requests.request(method, f"{api}/people/{person}/notify", json=body, headers=headers, timeout=30)


def test_rules_round_trip_an_override_wins_until_deleted(api):
    before = rules_of(api, "Tim Jones").json()
    assert before == {
        "person": "Tim Jones",
        "source": "people.toml",
        "rules": FILE_RULES,
        "updated_at": None,
        "file_rules": FILE_RULES,
    }
    asked = utc_now()
    put = rules_of(api, "tim.jones@example.com", "PUT", ONLY_A_LATE_CALL)  # by email too
    assert put.status_code == 200
    stored = put.json()
    assert (stored["source"], stored["file_rules"]) == ("api", FILE_RULES)
    assert stored["rules"] == {
        "high": [{"channel": "teams", "after_minutes": 0}, {"channel": "voice", "after_minutes": 2}],
        "low": [{"channel": "teams", "after_minutes": 0}],  # a level left out is the card alone, as in the file
    }
    assert asked <= parse_instant(stored["updated_at"]) <= utc_now()  # when it was set is recorded (who: unknown)
    assert rules_of(api, "Tim%20Jones").json() == stored
    deleted = rules_of(api, "Tim Jones", "DELETE")
    assert (deleted.status_code, deleted.json()) == (200, {**before, "deleted": True})
    assert rules_of(api, "Tim Jones").json() == before
    assert rules_of(api, "Tim Jones", "DELETE").json()["deleted"] is False


@pytest.mark.parametrize(
    ("person", "body", "detail"),
    [
        (
            "Tim Jones",
            {"high": [{"channel": "sms", "after_minutes": 5}, {"channel": "sms", "after_minutes": 1}]},
            "notify.high[1].after_minutes: steps must be in order of their delay",
        ),
        (
            "Larry Brown",
            {"low": [{"channel": "sms"}]},
            "notify.low[0].channel: sms needs the person's phone (E.164)",
        ),
        (
            "Tim Jones",
            {"high": [{"channel": "pager"}]},
            "notify.high[0].channel: 'pager' is not one of teams, sms, voice, teams_activity",
        ),
        (
            "Tim Jones",
            {"high": [{"channel": "sms", "after_minutes": True}]},
            "notify.high[0].after_minutes: must be 0–1440, got True",
        ),
        (
            "Tim Jones",
            {"quiet_hours": {"start": "25:00", "end": "07:00"}},
            "notify.quiet_hours.start: must be a 24-hour time \"HH:MM\", got '25:00'",
        ),
        ("Tim Jones", {"urgent": []}, "notify.urgent: unknown key; expected one of high, low, quiet_hours"),
        ("Tim Jones", {"high": []}, "notify.high: must be a list of 1–10 { channel, after_minutes } tables"),
        ("Tim Jones", ["not", "an", "object"], "body must be a JSON object, not list"),
        # Neither level: stored, it would be the card alone and silently end phone paging.
        ("Tim Jones", {}, NEEDS_A_LEVEL),
        ("Tim Jones", {"quiet_hours": {"start": "22:00", "end": "07:00"}}, NEEDS_A_LEVEL),
    ],
)
def test_invalid_rules_are_refused_naming_the_key_and_nothing_is_stored(api, person, body, detail):
    before = rules_of(api, person).json()
    answer = rules_of(api, person, "PUT", body)
    assert (answer.status_code, answer.json()["detail"]) == (400, detail)
    assert rules_of(api, person).json() == before


def test_a_change_is_logged_with_its_channels_and_no_phone_number(api, caplog):
    with caplog.at_level("INFO", logger="firebell.oncall"):
        assert rules_of(api, "Tim Jones", "PUT", ONLY_A_LATE_CALL).status_code == 200
    (record,) = [r for r in caplog.records if r.getMessage().startswith("notify rules set")]
    assert (record.person, record.high, record.low, record.quiet_hours) == ("Tim Jones", "teams,voice", "teams", False)
    assert contacts.TIM_PHONE not in caplog.text


def test_if_match_refuses_a_change_to_rules_someone_else_changed_meanwhile(api):
    mine = rules_of(api, "Tim Jones", "PUT", ONLY_A_LATE_CALL)
    read = mine.headers["ETag"]
    assert rules_of(api, "Tim Jones").headers["ETag"] == read  # GET hands out the version
    theirs = rules_of(api, "Tim Jones", "PUT", {"high": [{"channel": "sms"}]})  # another editor, no If-Match
    assert theirs.headers["ETag"] != read
    for method, body in (("PUT", FILE_RULES), ("DELETE", None)):
        stale = rules_of(api, "Tim Jones", method, body, if_match=read)
        assert (stale.status_code, stale.json()["detail"]) == (412, STALE)
        assert rules_of(api, "Tim Jones").json() == theirs.json()  # nothing changed
    again = rules_of(api, "Tim Jones", "PUT", ONLY_A_LATE_CALL, if_match=theirs.headers["ETag"])
    assert (again.status_code, again.json()["rules"]["high"][1]) == (200, {"channel": "voice", "after_minutes": 2})
    gone = rules_of(api, "Tim Jones", "DELETE", if_match=again.headers["ETag"])
    assert (gone.status_code, gone.json()["deleted"], "ETag" in gone.headers) == (200, True, False)
    # No override now: any If-Match names a version that is not stored, "*" included; a malformed one is no better.
    for given in ("*", again.headers["ETag"], 'W/"not-an-etag"', "garbage"):
        for method, body in (("PUT", ONLY_A_LATE_CALL), ("DELETE", None)):
            assert rules_of(api, "Tim Jones", method, body, if_match=given).status_code == 412
    assert rules_of(api, "Tim Jones").json()["source"] == "people.toml"


def test_unknown_people_are_404_and_the_function_key_is_required(api):
    for method in ("GET", "PUT", "DELETE"):
        answer = rules_of(api, "Nobody", method, ONLY_A_LATE_CALL)
        assert (answer.status_code, answer.json()["detail"]) == (404, "'Nobody' is not in people.toml")
        assert requests.request(method, f"{api}/people/Tim Jones/notify", timeout=30).status_code == 401


def test_the_ladder_pages_by_the_override(api, storage_account, acs):
    assert rules_of(api, "Tim Jones", "PUT", ONLY_A_LATE_CALL).status_code == 200
    ident = page_tim(contacts.IncidentStore(storage_account))
    # The file would text at once; the override's only personal step is a call after two minutes.
    assert acs.sms() == [] and contact_texts(contacts.IncidentStore(storage_account), ident) == []
    assert queued(storage_account) == []
    queue = storage_account.queue("contacts")
    assert queue.get_queue_properties().approximate_message_count == 1


def test_after_the_override_is_deleted_the_file_rules_page_again(api, storage_account, acs):
    rules_of(api, "Tim Jones", "PUT", ONLY_A_LATE_CALL)
    rules_of(api, "Tim Jones", "DELETE")
    store = contacts.IncidentStore(storage_account)
    ident = page_tim(store)
    assert [sms.to for sms in acs.sms()] == [contacts.TIM_PHONE]
    assert contact_texts(store, ident) == ["SMS to Tim Jones sent (high urgency, rule step 2 of 4)"]


def test_a_person_without_rules_in_the_file_is_reached_by_the_api_rules(api, storage_account, acs):
    """Priya has a phone but no rules in people.toml: the card alone, until the API gives her an SMS step."""
    from functions import context
    from shared.contacts.contact import start_ladder
    from tests.integration.test_notifications import WEDNESDAY, notifier, open_incident

    ident, _ = open_incident(contacts.IncidentStore(storage_account))
    incident = contacts.IncidentStore(storage_account).get_incident(ident)
    priya = context.people().named("Priya Raman")
    assert start_ladder(notifier(), incident, priya, "r01-s00", WEDNESDAY) == []
    rules_of(api, "Priya Raman", "PUT", {"high": [{"channel": "sms", "after_minutes": 5}]})
    ((message, outcome, sent),) = start_ladder(notifier(), incident, priya, "r02-s00", WEDNESDAY)
    assert (message.channel, message.index, outcome) == ("sms", 0, "queued")
    assert pause_of(sent) == timedelta(minutes=5)


def test_a_queued_step_the_new_rules_no_longer_have_is_dropped_with_a_note(api, storage_account, acs):
    """Tim is paged by the file's rules (SMS now, SMS after 1 min, call after 3 min); then his rules change."""
    from functions import context
    from shared.contacts.contact import on_contact, start_ladder
    from tests.integration.test_notifications import WEDNESDAY, notifier, open_incident

    store = contacts.IncidentStore(storage_account)
    ident, _ = open_incident(store)
    tim = context.people().named("Tim Jones")
    steps = start_ladder(notifier(), store.get_incident(ident), tim, "r01-s00", WEDNESDAY)
    assert [(m.index, m.channel, outcome) for m, outcome, _ in steps] == [
        (1, "sms", "sent"),
        (2, "sms", "queued"),
        (3, "voice", "queued"),
    ]
    changed = {"high": [{"channel": "teams"}, {"channel": "sms"}, {"channel": "voice", "after_minutes": 1}]}
    assert rules_of(api, "Tim Jones", "PUT", changed).status_code == 200
    for (_, _, sent), minutes in zip(steps[1:], (1, 3), strict=True):
        assert on_contact(sent.content.encode(), sent.id, 1, WEDNESDAY + timedelta(minutes=minutes), notifier()) is None
    assert (len(acs.sms()), acs.calls()) == (1, [])  # neither old step went out, nor did either start another
    assert contact_texts(store, ident) == [
        "SMS to Tim Jones sent (high urgency, rule step 2 of 4)",
        "SMS to Tim Jones (rule step 3) not sent: Tim Jones's rules changed since the page: rule step 3 is now voice",
        "voice call to Tim Jones (rule step 4) not sent: Tim Jones's rules changed since the page: they now have 3 "
        "high steps",
    ]
    assert [event.kind for event in store.timeline(ident) if event.kind.startswith("contact.")][1:] == [
        "contact.dropped",
        "contact.dropped",
    ]
    assert queued(storage_account) == []


def test_a_page_reads_the_rules_in_force_once(api, storage_account, acs):
    """Deciding to call beyond the card, queueing the ladder and sending the SMS due at once share one read."""
    from shared.notifications.escalate import run_step
    from shared.notifications.policy import FIRST, StepMessage
    from tests.integration.test_notifications import WEDNESDAY, notifier, open_incident

    assert rules_of(api, "Tim Jones", "PUT", {"high": [{"channel": "teams"}, {"channel": "sms"}]}).status_code == 200
    paging, reads = notifier(), []
    read = paging.reachable
    paging.reachable = lambda name: reads.append(name) or read(name)  # counts; reads Azurite as ever
    ident, _ = open_incident(contacts.IncidentStore(storage_account))
    assert run_step(StepMessage(ident, "quick", FIRST, WEDNESDAY), "step-1", 1, WEDNESDAY, paging).steps == [
        (FIRST, "paged")
    ]
    assert ([sms.to for sms in acs.sms()], reads) == ([contacts.TIM_PHONE], ["Tim Jones"])
