"""The authorisation policy: its file (refused with file, key and problem), its defaults, and who the sender is."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.configuration import Configuration, check_configuration
from shared.chatops.authorization import DEFAULT_RULES, Policy, Sender, load_policy, parse_policy, refusal
from shared.chatops.grammar import COMMANDS, parse_command
from shared.core.errors import ConfigurationError
from shared.incidents.incident import Incident
from shared.oncall.people import Directory, Person, load_directory
from tests.conftest import ROOT

DIRECTORY = Directory((Person("Tim Jones", aad_object_id="aad-tim"), Person("Grace Okafor", teams_id="29:grace")))
SOURCE = "config/authorization.toml"


def test_the_shipped_example_spells_out_the_defaults():
    assert load_policy(ROOT / "config", load_directory(ROOT / "config")) == Policy()


def test_every_command_of_the_grammar_has_a_default_rule():
    assert set(DEFAULT_RULES) == set(COMMANDS)


def test_a_rule_may_name_a_person_from_people_toml():
    policy = parse_policy({"commands": {"resolve": ["commander", "tim jones"]}}, SOURCE, DIRECTORY)
    assert policy.rules["resolve"] == ("commander", "Tim Jones")
    assert policy.rules["ack"] == ("listed",)  # the rest keep their defaults


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"command": {}}, f"{SOURCE}.command: unknown key; expected one of commands, when_vacant"),
        ({"commands": {"resolv": ["role"]}}, f"{SOURCE}: commands.resolv: unknown key; expected one of "),
        ({"commands": {"ack": "listed"}}, f"{SOURCE}: commands.ack: must be a list of who may, got 'listed'"),
        ({"commands": {"ack": ["Nobody Known"]}}, f"{SOURCE}: commands.ack: 'Nobody Known' is neither one of "),
        ({"when_vacant": {"update": [3]}}, f"{SOURCE}: when_vacant.update: 3 is neither one of "),
        ({"commands": []}, f"{SOURCE}: commands: must be a table of command = [who, …]"),
    ],
)
def test_a_bad_policy_is_refused_with_file_key_and_problem(document, problem):
    with pytest.raises(ConfigurationError) as refused:
        parse_policy(document, SOURCE, DIRECTORY)
    assert refused.value.detail.startswith(problem)


def test_the_start_up_check_reports_a_bad_policy_and_the_rest_still_loads(tmp_path: Path):
    for name in ("services.toml", "people.toml", "oncall.toml"):
        (tmp_path / name).write_text((ROOT / "config" / name).read_text())
    (tmp_path / "authorization.toml").write_text('[commands]\nack = ["everyone"]\n')
    problems = check_configuration(Configuration(tmp_path))
    assert len(problems) == 1 and problems[0].startswith(
        f"{tmp_path / 'authorization.toml'}: commands.ack: 'everyone' is neither one of anyone, listed"
    )


def test_a_sender_is_known_by_a_listed_id_and_never_by_the_name_alone():
    assert DIRECTORY.sender("Tim J.", None, "aad-tim") == (DIRECTORY.people[0], True)
    assert DIRECTORY.sender("Grace", "29:grace", None) == (DIRECTORY.people[1], True)
    assert DIRECTORY.sender("Tim Jones", "29:tim", "aad-other") == (Person("Tim Jones (unverified)"), False)
    assert DIRECTORY.sender("Grace Okafor", "29:not-grace", None) == (Person("Grace Okafor (unverified)"), False)
    assert DIRECTORY.sender("A Guest", "29:guest", None) == (Person("A Guest"), False)
    # Someone listed without any id is known by name: the only thing the directory has for them.
    named_only = Directory((Person("Priya Raman"),))
    assert named_only.sender("priya raman", "29:p", None) == (Person("Priya Raman"), True)


NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
INCIDENT = Incident(
    id="INC-7",
    number=7,
    title="cpu-high",
    service="checkout",
    components=("Checkout",),
    severity=2,
    status="triggered",
    source="monitoring",
    source_detail="",
    group=None,
    detected_at=NOW,
    declared_at=NOW,
    updated_at=NOW,
    roles=(("comms", "Grace Okafor"),),
)


@pytest.mark.parametrize(
    ("text", "who", "listed", "allowed"),
    [
        ("status INC-7", "A Guest", False, True),
        ("ack INC-7", "A Guest", False, False),
        ("ack INC-7", "Marcus Lee", True, True),
        ("resolve INC-7", "Marcus Lee", True, False),
        ("resolve INC-7", "Tim Jones", True, True),  # on the roster
        ("resolve INC-7", "Grace Okafor", True, True),  # holds a role
        ("update INC-7 investigating x", "Tim Jones", True, False),  # comms is held: the roster no longer may
        ("update INC-7 investigating x", "Grace Okafor", True, True),
        ("hello INC-7", "A Guest", False, True),  # talk is recorded for anyone
    ],
)
def test_the_default_rules(text, who, listed, allowed):
    reason = refusal(
        Policy(), parse_command(text), Sender(who, listed), INCIDENT, ("Tim Jones",), "the payments roster"
    )
    assert (reason is None) == allowed, reason
