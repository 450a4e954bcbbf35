"""resolved → postmortem → closed by the real ChatOps rules: which severities must be reviewed before they close (the
policy in postmortems.toml), refusals with their reasons, and reopen still working from resolved only."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.chatops.grammar import parse_command
from shared.chatops.rules import Context, Said, decide
from shared.core.errors import ConfigurationError
from shared.postmortems.policy import ReviewPolicy, load_review_policy
from tests.conftest import ROOT
from tests.unit.readiness.history import History, utc

AT = utc("2026-11-23T12:00")
DEFAULT = ReviewPolicy()


def resolved(severity: int) -> History:
    history = History.alert(5, utc("2026-11-23T10:00"), severity=severity)
    return history.say("resolve INC-5 fixed", "Larry Brown", utc("2026-11-23T11:00"))


def reply(history: History, text: str, policy: ReviewPolicy = DEFAULT) -> tuple[str, str | None]:
    decision = decide(parse_command(text), history.incident, Said(text, "Larry Brown", AT, "m"), Context(review=policy))
    if decision.changed is not None:
        history.incident = decision.changed
    return decision.reply["text"], decision.changed.status if decision.changed else None


def test_a_sev2_incident_is_not_closed_without_its_review_and_the_reply_says_why():
    history = resolved(2)
    assert reply(history, "close INC-5") == (
        "**INC-5**: INC-5 is SEV2, which needs a post-incident review before it closes: start it with postmortem "
        "INC-5 \\<facilitator\\>",
        None,
    )
    assert reply(history, "postmortem INC-5 Nadia Visitor")[1] == "postmortem"
    assert reply(history, "reopen INC-5") == (
        "**INC-5**: INC-5 is in postmortem; only a resolved incident can be reopened",
        None,
    )
    assert reply(history, "postmortem INC-5") == (
        "**INC-5**: INC-5 is postmortem; its review has started already",
        None,
    )
    assert reply(history, "close INC-5") == ("**INC-5**: Larry Brown closed the incident after its review", "closed")
    assert reply(history, "close INC-5") == ("**INC-5**: INC-5 is already closed", None)


def test_a_sev3_incident_closes_without_review_unless_the_policy_requires_one():
    assert reply(resolved(3), "close INC-5") == ("**INC-5**: Larry Brown closed the incident", "closed")
    strict = ReviewPolicy(required_severities=frozenset({1, 2, 3}))
    assert reply(resolved(3), "close INC-5", strict)[1] is None


def test_an_open_incident_can_neither_start_a_review_nor_close_and_a_resolved_one_still_reopens():
    history = History.alert(5, utc("2026-11-23T10:00"))
    assert reply(history, "postmortem INC-5") == (
        "**INC-5**: INC-5 is triggered; resolve it before its review starts",
        None,
    )
    assert reply(history, "close INC-5") == ("**INC-5**: INC-5 is triggered; resolve it before closing it", None)
    assert reply(resolved(2), "reopen INC-5")[1] == "investigating"


def test_the_policy_file_is_read_and_a_bad_value_is_named(tmp_path: Path):
    assert load_review_policy(ROOT / "config") == ReviewPolicy()
    assert load_review_policy(tmp_path) == ReviewPolicy()  # the file is optional
    (tmp_path / "postmortems.toml").write_text("[review]\nrequired_severities = ['SEV1']\nsilence_minutes = 15\n")
    policy = load_review_policy(tmp_path)
    assert (policy.required_severities, policy.silence.total_seconds()) == (frozenset({1}), 900.0)
    (tmp_path / "postmortems.toml").write_text("[review]\nrequired_severity = [1]\n")
    with pytest.raises(ConfigurationError, match=r"review\.required_severity: unknown key"):
        load_review_policy(tmp_path)
    (tmp_path / "postmortems.toml").write_text("[review]\nsilence_minutes = 0\n")
    with pytest.raises(ConfigurationError, match=r"silence_minutes must be a whole number of minutes, 1 to 1440"):
        load_review_policy(tmp_path)
