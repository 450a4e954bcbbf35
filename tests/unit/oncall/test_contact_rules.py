"""Personal notification rules in people.toml: per urgency an ordered list of (channel, delay), quiet hours for low
urgency, phones in E.164 — and every mistake named by file, key and problem."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta

import pytest

from shared.core.errors import ConfigurationError, NotFound
from shared.oncall.contact_rules import (
    HIGH,
    LOW,
    SMS,
    TEAMS,
    TEAMS_ACTIVITY,
    VOICE,
    ContactStep,
    due_at,
    parse_rules,
    rules_document,
    urgency,
)
from shared.oncall.people import parse_directory

SOURCE = "config/people.toml"
TIM = """
[[person]]
name = "Tim Jones"
time_zone = "America/Denver"
phone = "+13035550142"
  [person.notify]
  high = [{ channel = "teams" }, { channel = "sms", after_minutes = 1 }, { channel = "voice", after_minutes = 3 }]
  low = [{ channel = "teams" }, { channel = "sms", after_minutes = 15 }]
  quiet_hours = { start = "22:00", end = "07:00" }
"""


def directory(text: str):
    return parse_directory(tomllib.loads(text), SOURCE)


def test_rules_are_read_per_urgency_in_order():
    (tim,) = directory(TIM).people
    assert tim.phone == "+13035550142"
    assert tim.rules.high == (
        ContactStep(TEAMS),
        ContactStep(SMS, timedelta(minutes=1)),
        ContactStep(VOICE, timedelta(minutes=3)),
    )
    assert tim.rules.low == (ContactStep(TEAMS), ContactStep(SMS, timedelta(minutes=15)))
    assert (urgency(1), urgency(2), urgency(3), urgency(4)) == (HIGH, HIGH, LOW, LOW)


def test_without_rules_a_person_gets_the_teams_card_alone():
    (larry,) = directory('[[person]]\nname = "Larry Brown"\n').people
    assert larry.rules.high == larry.rules.low == (ContactStep(TEAMS),)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('phone = "303-555-0142"', "config/people.toml: person[0].phone: '303-555-0142' is not an E.164 phone number"),
        ('phone = "+0123456789"', "person[0].phone: '+0123456789' is not an E.164 phone number"),
        ('notify = { high = [{ channel = "sms" }] }', "person[0].notify.high[0].channel: sms needs the person's phone"),
        (
            'phone = "+13035550142"\nnotify = { high = [{ channel = "pager" }] }',
            "person[0].notify.high[0].channel: 'pager' is not one of teams, sms, voice, teams_activity",
        ),
        (
            'phone = "+13035550142"\nnotify = { high = [{ channel = "sms", after_minutes = -1 }] }',
            "person[0].notify.high[0].after_minutes: must be 0–1440, got -1",
        ),
        (
            'phone = "+13035550142"\nnotify = { high = [{ channel = "sms", after_minutes = 5 }, { channel = "voice", '
            "after_minutes = 1 }] }",
            "person[0].notify.high[1].after_minutes: steps must be in order of their delay",
        ),
        ("notify = { high = [] }", "person[0].notify.high: must be a list of 1–10"),
        (
            'notify = { high = [{ channel = "teams_activity" }] }',
            "person[0].notify.high[0].channel: teams_activity needs the person's aad_object_id (Entra object id)",
        ),
        ("notify = { urgent = [] }", "person[0].notify.urgent: unknown key; expected one of high, low, quiet_hours"),
        ('notify = { low = [{ channel = "teams", after = 1 }] }', "person[0].notify.low[0].after: unknown key"),
        ('notify = { quiet_hours = { start = "10pm", end = "07:00" } }', "person[0].notify.quiet_hours.start: must"),
        ('notify = { quiet_hours = { start = "07:00", end = "07:00" } }', "start and end are the same time"),
    ],
)
def test_mistakes_are_named_by_file_key_and_problem(text, problem):
    with pytest.raises(ConfigurationError) as error:
        directory(f'[[person]]\nname = "Tim Jones"\n{text}\n')
    assert problem in error.value.detail
    assert error.value.detail.startswith(SOURCE)


def test_two_people_cannot_share_a_phone():
    text = '[[person]]\nname = "A"\nphone = "+13035550142"\n[[person]]\nname = "B"\nphone = "+13035550142"\n'
    with pytest.raises(ConfigurationError) as error:
        directory(text)
    assert error.value.detail == "config/people.toml: two people have the phone +13035550142"


def test_an_inbound_number_identifies_its_person():
    people = directory(TIM + '[[person]]\nname = "Larry Brown"\n')
    assert people.by_phone("+13035550142").name == "Tim Jones"
    assert people.by_phone("+13035550143") is None


# Tim is in Denver (UTC-7 in December); quiet hours 22:00–07:00 there are 05:00–14:00 UTC.
@pytest.mark.parametrize(
    ("paged", "level", "step", "due"),
    [
        # Low urgency inside quiet hours: the SMS waits until 07:00 Denver (14:00 UTC); Teams never waits.
        (
            datetime(2026, 12, 2, 6, 0, tzinfo=UTC),
            LOW,
            ContactStep(SMS, timedelta(minutes=15)),
            datetime(2026, 12, 2, 14, 0, tzinfo=UTC),
        ),
        (datetime(2026, 12, 2, 6, 0, tzinfo=UTC), LOW, ContactStep(TEAMS), datetime(2026, 12, 2, 6, 0, tzinfo=UTC)),
        # High urgency wakes them.
        (
            datetime(2026, 12, 2, 6, 0, tzinfo=UTC),
            HIGH,
            ContactStep(SMS, timedelta(minutes=1)),
            datetime(2026, 12, 2, 6, 1, tzinfo=UTC),
        ),
        # Outside quiet hours: the delay only. A delay that lands in quiet hours (21:50 + 15 min) is held.
        (
            datetime(2026, 12, 2, 18, 0, tzinfo=UTC),
            LOW,
            ContactStep(SMS, timedelta(minutes=15)),
            datetime(2026, 12, 2, 18, 15, tzinfo=UTC),
        ),
        (
            datetime(2026, 12, 3, 4, 50, tzinfo=UTC),
            LOW,
            ContactStep(SMS, timedelta(minutes=15)),
            datetime(2026, 12, 3, 14, 0, tzinfo=UTC),
        ),
    ],
)
def test_quiet_hours_hold_low_urgency_sms_and_calls_until_they_end(paged, level, step, due):
    (tim,) = directory(TIM).people
    assert due_at(step, paged, level, tim.rules, tim.time_zone) == due


def test_a_teams_activity_step_is_read_for_a_person_with_an_entra_object_id_and_held_in_quiet_hours():
    text = TIM.replace(
        'phone = "+13035550142"', 'phone = "+13035550142"\naad_object_id = "6b1c0f5e-0000-4000-8000-000000000001"'
    )
    text = text.replace('low = [{ channel = "teams" }', 'low = [{ channel = "teams_activity" }')
    (tim,) = directory(text).people
    assert tim.rules.low[0] == ContactStep(TEAMS_ACTIVITY)
    paged = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # 23:00 in Denver: quiet
    assert due_at(tim.rules.low[0], paged, LOW, tim.rules, tim.time_zone) == datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


def test_the_rules_document_reads_back_as_the_same_rules():
    (tim,) = directory(TIM).people
    document = rules_document(tim.rules)
    assert document == {
        "high": [
            {"channel": "teams", "after_minutes": 0},
            {"channel": "sms", "after_minutes": 1},
            {"channel": "voice", "after_minutes": 3},
        ],
        "low": [{"channel": "teams", "after_minutes": 0}, {"channel": "sms", "after_minutes": 15}],
        "quiet_hours": {"start": "22:00", "end": "07:00"},
    }
    assert parse_rules(document, "notify", tim.phone) == tim.rules
    half = parse_rules({"high": [{"channel": "sms", "after_minutes": 0.5}]}, "notify", tim.phone)
    assert rules_document(half)["high"] == [{"channel": "sms", "after_minutes": 0.5}]


def test_listed_finds_a_person_by_name_or_email_and_refuses_anyone_else():
    people = directory(TIM + '\n[[person]]\nname = "Priya Raman"\nemail = "priya@example.com"\n')
    assert people.listed("  tim jones ").name == "Tim Jones"
    assert people.listed("PRIYA@example.com").name == "Priya Raman"
    for stranger, shown in (("Nobody", "'Nobody'"), ("   ", "''"), ("x" * 300, repr("x" * 100))):
        with pytest.raises(NotFound) as refused:
            people.listed(stranger)
        assert refused.value.detail == f"{shown} is not in people.toml"
