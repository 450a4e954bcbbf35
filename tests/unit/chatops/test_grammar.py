"""Parsing Teams ChatOps command text into commands."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.chatops.grammar import (
    COMMANDS,
    MAX_PERSON,
    MAX_TITLE,
    MAX_WORD,
    MILESTONES,
    NEEDS_ZONE,
    ROLE_TITLES,
    ROLES,
    UPDATE_STATUSES,
    Ack,
    AskChannel,
    AssignRole,
    Close,
    Declare,
    Drill,
    FollowUp,
    Handoff,
    Help,
    Invalid,
    ListIncidents,
    Milestone,
    Note,
    Page,
    ReleaseRole,
    Reopen,
    Resolve,
    ScheduleMaintenance,
    SendTestPage,
    SetComponentStatus,
    SetOverride,
    SetSeverity,
    StartReview,
    Status,
    Timeline,
    Unknown,
    Update,
    parse_command,
)

ROLE_USAGE = "role INC-7 commander Alex Kim"
KINDS = {
    "declare": Declare,
    "drill": Drill,
    "status": Status,
    "ack": Ack,
    "sev": SetSeverity,
    "role": AssignRole,
    "handoff": Handoff,
    "update": Update,
    "note": Note,
    "resolve": Resolve,
    "reopen": Reopen,
    "postmortem": StartReview,
    "close": Close,
    "timeline": Timeline,
    "action": FollowUp,
    "milestone": Milestone,
    "release": ReleaseRole,
    "component": SetComponentStatus,
    "page": Page,
    "channel": AskChannel,
    "override": SetOverride,
    "maintenance": ScheduleMaintenance,
    "test-page": SendTestPage,
}


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("help", Help(topic=None)),
        ("?", Help(topic=None)),
        ("HELP?", Help(topic=None)),
        ("help role", Help(topic="role")),
        ("help acknowledge", Help(topic="ack")),
        ("help me please", Help(topic=None)),
        ("declare 2 Checkout is failing", Declare(severity=2, title="Checkout is failing")),
        ("declare sev1 EU   payments down", Declare(severity=1, title="EU payments down")),
        ("Declare SEV4 slow search", Declare(severity=4, title="slow search")),
        ("list", ListIncidents()),
        ("LIST open ones", ListIncidents()),
        ("status INC-7", Status(incident_id="INC-7")),
        ("status inc-007", Status(incident_id="INC-7")),
        ("ack INC-7", Ack(incident_id="INC-7")),
        ("ack INC-7. on it", Ack(incident_id="INC-7")),
        ("acknowledge inc-12", Ack(incident_id="INC-12")),
        ("sev INC-7 2", SetSeverity(incident_id="INC-7", severity=2)),
        ("sev INC-7 SEV1", SetSeverity(incident_id="INC-7", severity=1)),
        ("severity INC-7 sev3", SetSeverity(incident_id="INC-7", severity=3)),
        ("role INC-7 commander Larry Brown", AssignRole(incident_id="INC-7", role="commander", person="Larry Brown")),
        ("role INC-7 ic Larry Brown", AssignRole(incident_id="INC-7", role="commander", person="Larry Brown")),
        ("role INC-7 incident-commander Ann", AssignRole(incident_id="INC-7", role="commander", person="Ann")),
        ("role INC-7 IC: Ann", AssignRole(incident_id="INC-7", role="commander", person="Ann")),
        ("role INC-7 comms Ann Lee", AssignRole(incident_id="INC-7", role="comms", person="Ann Lee")),
        ("role INC-7 communications Ann", AssignRole(incident_id="INC-7", role="comms", person="Ann")),
        ("role INC-7 communication Ann", AssignRole(incident_id="INC-7", role="comms", person="Ann")),
        ("role INC-7 cc Ann", AssignRole(incident_id="INC-7", role="comms", person="Ann")),
        ("role INC-7 scribe @Bo", AssignRole(incident_id="INC-7", role="scribe", person="Bo")),
        ("role INC-7 primary Bo", AssignRole(incident_id="INC-7", role="primary", person="Bo")),
        ("role INC-7 secondary Bo", AssignRole(incident_id="INC-7", role="secondary", person="Bo")),
        ("role INC-7 sme Bo", AssignRole(incident_id="INC-7", role="sme", person="Bo")),
        ("role INC-7 expert Bo", AssignRole(incident_id="INC-7", role="sme", person="Bo")),
        ("handoff INC-7 Larry Brown", Handoff(incident_id="INC-7", person="Larry Brown")),
        ("hand-off INC-7 @Larry", Handoff(incident_id="INC-7", person="Larry")),
        ("update INC-7 We are looking into it", Update("INC-7", None, "We are looking into it", None)),
        ("update INC-7 investigating Errors on checkout", Update("INC-7", "investigating", "Errors on checkout", None)),
        ("update INC-7 Identified: a bad deploy", Update("INC-7", "identified", "a bad deploy", None)),
        ("update INC-7 monitoring Fix is out", Update("INC-7", "monitoring", "Fix is out", None)),
        ("update INC-7 resolved it", Update("INC-7", None, "resolved it", None)),
        ("note INC-7 the db failed over", Note(incident_id="INC-7", text="the db failed over")),
        ("resolve INC-7", Resolve(incident_id="INC-7", summary=None)),
        ("resolve INC-7 rolled back the deploy", Resolve(incident_id="INC-7", summary="rolled back the deploy")),
        ("reopen INC-7", Reopen(incident_id="INC-7")),
        ("timeline INC-7", Timeline(incident_id="INC-7")),
        ("action INC-7 alert on queue depth", FollowUp(incident_id="INC-7", text="alert on queue depth")),
        ("follow-up INC-7 add a runbook", FollowUp(incident_id="INC-7", text="add a runbook")),
        (
            "milestone INC-7 mitigated 2026-11-23T09:40Z",
            Milestone(incident_id="INC-7", name="mitigated", at=datetime(2026, 11, 23, 9, 40, tzinfo=UTC)),
        ),
        (
            "milestone inc-7 Detected 2026-11-23 10:40:05.5+01:00",
            Milestone(incident_id="INC-7", name="detected", at=datetime(2026, 11, 23, 9, 40, 5, 500000, tzinfo=UTC)),
        ),
        ("release INC-7 sme", ReleaseRole(incident_id="INC-7", role="sme", person=None)),
        ("release INC-7 expert Bo Li", ReleaseRole(incident_id="INC-7", role="sme", person="Bo Li")),
        ("release INC-7 ic", ReleaseRole(incident_id="INC-7", role="commander", person=None)),
    ],
)
def test_each_command_and_alias_parses_to_its_command(text, command):
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("Rolling back. Next update in 30 min", 30),
        ("next update in 45 minutes, we are on it", 45),
        ("Next update in 1 hour.", 60),
        ("next update in 2 hours", 120),
        ("next update in 90mins", 90),
        ("next update within an hour", 60),
        ("next update in 15m", 15),
        ("next update in 3 hrs", 180),
        ("next update soon", None),
        ("next update in 1.5 hours", None),
        ("update in 30 min", None),
    ],
)
def test_an_update_carries_the_expected_time_of_the_next_one_and_keeps_the_phrase(text, minutes):
    assert parse_command(f"update INC-7 identified {text}") == Update("INC-7", "identified", text, minutes)


@pytest.mark.parametrize("text", ["next update in 0 min", "next update in 8 days... next update in 200 hours"])
def test_a_next_update_outside_a_week_is_refused(text):
    assert parse_command(f"update INC-7 {text}") == Invalid(
        command="update",
        problem="the next update must be between 1 minute and 7 days away, e.g. next update in 30 min",
        incident_id="INC-7",
    )


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("INC-7 the db is back?", Note(incident_id="INC-7", text="INC-7 the db is back?")),
        ("is inc-007 still  on fire", Note(incident_id="INC-7", text="is inc-007 still on fire")),
        ("the db is back (INC-12).", Note(incident_id="INC-12", text="the db is back (INC-12).")),
    ],
)
def test_plain_text_about_an_incident_is_a_note(text, command):
    assert parse_command(text) == command


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_asks_for_help(text):
    assert parse_command(text) == Help(topic=None)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("reslove INC-7", Unknown(word="reslove", suggestion="resolve", incident_id="INC-7")),
        ("akc INC-7", Unknown(word="akc", suggestion="ack", incident_id="INC-7")),
        ("acknowlege INC-7", Unknown(word="acknowlege", suggestion="ack", incident_id="INC-7")),
        ("Decalre 2 db down", Unknown(word="decalre", suggestion="declare", incident_id=None)),
        ("udpate INC-3 fixed", Unknown(word="udpate", suggestion="update", incident_id="INC-3")),
        ("timline INC-3", Unknown(word="timline", suggestion="timeline", incident_id="INC-3")),
        ("hello there", Unknown(word="hello", suggestion="help", incident_id=None)),
        ("what is going on", Unknown(word="what", suggestion=None, incident_id=None)),
        ("is it down", Unknown(word="is", suggestion=None, incident_id=None)),
        ("not sure INC-7 is fixed", Unknown(word="not", suggestion="note", incident_id="INC-7")),
        ("x" * 100, Unknown(word="x" * MAX_WORD, suggestion=None, incident_id=None)),
        ("INC-99999999999 is not an id", Unknown(word="inc-99999999999", suggestion=None, incident_id=None)),
    ],
)
def test_an_unknown_word_suggests_the_nearest_command_and_keeps_the_incident(text, command):
    assert parse_command(text) == command


DECLARE_PROBLEM = "declare needs a severity 1–4 and a title: declare 2 Checkout is failing"
SEV_PROBLEM = "sev needs an incident id and a severity 1–4: sev INC-7 2"
ROLE_PROBLEM = (
    "role needs an incident id, a role (commander, comms, scribe, primary, secondary, sme) and a person: "
    "role INC-7 commander Alex Kim"
)
RELEASE_PROBLEM = (
    "release needs an incident id, a role (commander, comms, scribe, primary, secondary, sme) and optionally the "
    "person: release INC-7 sme Alex Kim"
)
HANDOFF_PROBLEM = "handoff needs an incident id and the next incident commander: handoff INC-7 Alex Kim"
NOTE_PROBLEM = "note needs an incident id and the text: note INC-7 the database failed over"
RESOLVE_PROBLEM = "resolve needs an incident id and optionally a summary: resolve INC-7 rolled back the deploy"
ACTION_PROBLEM = (
    "action needs an incident id and the follow-up, optionally with its owner and due date: "
    "action INC-7 alert on queue depth owner:Alex Kim due:2026-12-20"
)


@pytest.mark.parametrize(
    ("text", "problem", "incident_id"),
    [
        ("declare", DECLARE_PROBLEM, None),
        ("declare 5 db down", DECLARE_PROBLEM, None),
        ("declare db down", DECLARE_PROBLEM, None),
        ("declare 2 " + "t" * (MAX_TITLE + 1), "the title is 201 characters; the limit is 200", None),
        ("status", "status needs an incident id: status INC-7", None),
        ("status 7", "status needs an incident id: status INC-7", None),
        ("ack INC-", "ack needs an incident id: ack INC-7", None),
        ("ack the INC-7 one", "ack needs an incident id: ack INC-7", "INC-7"),
        ("sev INC-7", SEV_PROBLEM, "INC-7"),
        ("sev INC-7 0", SEV_PROBLEM, "INC-7"),
        ("sev INC-7 high", SEV_PROBLEM, "INC-7"),
        ("sev 2 INC-7", SEV_PROBLEM, "INC-7"),
        ("role INC-7 commander", ROLE_PROBLEM, "INC-7"),
        ("role INC-7 boss Ann", ROLE_PROBLEM, "INC-7"),
        ("role INC-7 sme @", ROLE_PROBLEM, "INC-7"),
        ("role INC-7 sme " + "p" * (MAX_PERSON + 1), "the person's name is 101 characters; the limit is 100", "INC-7"),
        ("handoff INC-7", HANDOFF_PROBLEM, "INC-7"),
        ("note INC-7", NOTE_PROBLEM, "INC-7"),
        ("note db is down", NOTE_PROBLEM, None),
        ("resolve", RESOLVE_PROBLEM, None),
        ("reopen", "reopen needs an incident id: reopen INC-7", None),
        ("timeline", "timeline needs an incident id: timeline INC-7", None),
        ("action INC-7", ACTION_PROBLEM, "INC-7"),
        ("milestone INC-7 mitigated 2026-11-23T09:40", "give the time with its zone, e.g. 2026-11-23T09:40Z", "INC-7"),
        ("milestone INC-7 mitigated 2026-11-23", NEEDS_ZONE, "INC-7"),
        ("release INC-7", RELEASE_PROBLEM, "INC-7"),
        ("release INC-7 boss", RELEASE_PROBLEM, "INC-7"),
    ],
)
def test_wrong_arguments_say_exactly_what_the_command_expects(text, problem, incident_id):
    command = _command_word(text)
    assert parse_command(text) == Invalid(command=command, problem=problem, incident_id=incident_id)


MILESTONE_USAGE = (
    "milestone needs an incident id, a milestone (started, detected, acknowledged, mitigated, resolved) "
    "and an ISO 8601 time: milestone INC-7 mitigated 2026-11-23T09:40Z"
)
UPDATE_USAGE = (
    "update needs an incident id, optionally a status (investigating, identified, monitoring), and the public text: "
    "update INC-7 identified A bad deploy, rolling back. Next update in 30 min"
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("milestone INC-7", MILESTONE_USAGE),
        ("milestone INC-7 fixed 2026-11-23T09:40Z", MILESTONE_USAGE),
        ("milestone INC-7 mitigated at nine", MILESTONE_USAGE),
        ("milestone INC-7 mitigated 0001-01-01T00:00+01:00", MILESTONE_USAGE),
        ("update INC-7", UPDATE_USAGE),
        ("update INC-7 identified", UPDATE_USAGE),
        ("update INC-7 monitoring:", UPDATE_USAGE),
    ],
)
def test_milestones_and_updates_explain_their_arguments(text, problem):
    assert parse_command(text) == Invalid(command=_command_word(text), problem=problem, incident_id="INC-7")


def _command_word(text: str) -> str:
    return text.split()[0]


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - {"help", "list", "oncall"}))
def test_each_command_alone_explains_itself_and_its_example_is_a_valid_command(command):
    invalid = parse_command(command)
    assert isinstance(invalid, Invalid) and invalid.command == command and invalid.incident_id is None
    assert invalid.problem.startswith(f"{command} needs ")
    example = invalid.problem.rsplit(": ", 1)[1]
    assert example.startswith(f"{command} ")
    assert isinstance(parse_command(example), KINDS[command])


def test_the_example_update_in_the_usage_carries_its_next_update():
    assert parse_command("update INC-7 identified A bad deploy, rolling back. Next update in 30 min") == Update(
        "INC-7", "identified", "A bad deploy, rolling back. Next update in 30 min", 30
    )


def test_markup_in_the_text_is_kept_as_text():
    assert parse_command("note INC-1 <script>alert(1)</script>") == Note("INC-1", "<script>alert(1)</script>")
    assert parse_command("declare 1 <b>all</b> down") == Declare(1, "<b>all</b> down")
    assert parse_command("role INC-1 sme <img src=x>") == AssignRole("INC-1", "sme", "<img src=x>")


def test_the_vocabulary_is_exported_for_replies():
    assert ROLES == ("commander", "comms", "scribe", "primary", "secondary", "sme")
    assert ROLE_TITLES == {
        "commander": "Incident commander",
        "comms": "Communication coordinator",
        "scribe": "Scribe",
        "primary": "Primary responder",
        "secondary": "Secondary responder",
        "sme": "Subject-matter expert",
    }
    assert MILESTONES == ("started", "detected", "acknowledged", "mitigated", "resolved")
    assert UPDATE_STATUSES == ("investigating", "identified", "monitoring")
    assert list(COMMANDS) == [
        "help", "declare", "drill", "list", "status", "ack", "sev", "role", "handoff",
        "update", "note", "resolve", "reopen", "postmortem", "close", "timeline", "action", "milestone",
        "release", "component", "page", "channel", "oncall", "test-page", "override", "maintenance",
    ]  # fmt: skip
    assert all(usage.startswith(f"{name}") and "\n" not in usage for name, usage in COMMANDS.items())


_INCIDENT = re.compile(r"INC-[0-9]+")


def _assert_well_formed(command: object) -> None:
    assert dataclasses.is_dataclass(command) and type(command).__module__ == "shared.chatops.grammar"
    fields = dataclasses.asdict(command)
    if fields.get("incident_id") is not None:
        assert _INCIDENT.fullmatch(fields["incident_id"])
    match command:
        case Declare(severity=severity, title=title):
            assert 1 <= severity <= 4 and 0 < len(title) <= MAX_TITLE
        case SetSeverity(severity=severity):
            assert 1 <= severity <= 4
        case AssignRole(role=role, person=person) | ReleaseRole(role=role, person=person):
            assert role in ROLES and (person is None or 0 < len(person) <= MAX_PERSON)
        case Handoff(person=person):
            assert 0 < len(person) <= MAX_PERSON
        case Update(status=status, text=text):
            assert status in (None, *UPDATE_STATUSES) and text
        case Milestone(name=name, at=at):
            assert name in MILESTONES and at.utcoffset().total_seconds() == 0
        case Unknown(word=word, suggestion=suggestion):
            assert 0 < len(word) <= MAX_WORD and (suggestion is None or suggestion in COMMANDS)
        case Invalid(command=name, problem=problem):
            assert name in COMMANDS and problem
        case Help(topic=topic):
            assert topic is None or topic in COMMANDS


_vocabulary = st.sampled_from(
    [*COMMANDS, "acknowledge", "severity", "?", "INC-7", "inc-0", "INC-", "sev2", "4", "9", "ic", "cc", "expert",
     *ROLES, *MILESTONES, *UPDATE_STATUSES, "2026-11-23T09:40Z", "2026-11-23T09:40", "9999-12-31T23:59-01:00",
     "next update in", "30 min", "an hour", "0", "@", "<script>", "&lt;", ":", "."]
)  # fmt: skip
_sentences = st.lists(_vocabulary | st.text(max_size=12), max_size=8).map(" ".join)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300))
def test_any_text_parses_to_a_command_without_raising(text):
    _assert_well_formed(parse_command(text))


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(text=_sentences)
def test_sentences_made_of_command_words_parse_without_raising(text):
    _assert_well_formed(parse_command(text))


def test_drill_starts_an_exercise_with_a_severity_and_a_title_as_declare_does():
    assert parse_command("drill sev2 Checkout is failing") == Drill(severity=2, title="Checkout is failing")
    assert parse_command("Drill 4 Search slow") == Drill(severity=4, title="Search slow")
    usage = "drill needs a severity 1–4 and a title: drill 2 Checkout is failing (Chaos Day)"
    assert parse_command("drill 5 Checkout") == Invalid(command="drill", problem=usage, incident_id=None)
