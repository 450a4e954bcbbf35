"""Overrides from the API and Teams: times in the forms people type, and every bad request refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.core.errors import InvalidInput
from shared.oncall.override import new_override, override_id, parse_override, parse_when
from tests.unit.oncall.test_schedule import ANA, CHLOE, DIRECTORY, ZED
from tests.unit.oncall.test_shifts import OPS

NOW = datetime(2026, 12, 2, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "zone", "instant"),
    [
        ("now", "Europe/London", NOW),
        ("NOW", "Europe/London", NOW),
        ("+8h", "Europe/London", NOW + timedelta(hours=8)),
        ("+30m", "Europe/London", NOW + timedelta(minutes=30)),
        ("+1d12h", "Europe/London", NOW + timedelta(days=1, hours=12)),
        ("+2w", "Europe/London", NOW + timedelta(weeks=2)),
        ("2026-12-03T09:00Z", "Australia/Sydney", datetime(2026, 12, 3, 9, tzinfo=UTC)),
        ("2026-12-03T09:00:00+01:00", "Australia/Sydney", datetime(2026, 12, 3, 8, tzinfo=UTC)),
        # Without a zone: the covering person's local time (Sydney is +11 in December, New York -5).
        ("2026-12-03T09:00", "Australia/Sydney", datetime(2026, 12, 2, 22, tzinfo=UTC)),
        ("2026-12-03 09:00", "America/New_York", datetime(2026, 12, 3, 14, tzinfo=UTC)),
        ("2026-12-03", "America/New_York", datetime(2026, 12, 3, 5, tzinfo=UTC)),
        # 02:30 on New York's spring-forward night does not exist: read with the earlier offset, 03:30 EDT.
        ("2027-03-14T02:30", "America/New_York", datetime(2027, 3, 14, 7, 30, tzinfo=UTC)),
    ],
)
def test_times_are_read_in_the_forms_people_type(text, zone, instant):
    assert parse_when(text, zone, NOW) == instant


@pytest.mark.parametrize("text", ["tomorrow", "+8", "+h", "8h", "2026-13-01T09:00", "+", ""])
def test_a_time_that_is_none_of_those_forms_is_refused(text):
    with pytest.raises(InvalidInput, match="is not a time: use ISO 8601"):
        parse_when(text, "UTC", NOW, "start")


BODY = {"roster": "ops", "person": "Zed Outsider", "start": "2026-12-03T09:00Z", "end": "2026-12-03T17:00Z"}


def test_an_api_override_is_validated_and_gets_a_deterministic_id():
    made = parse_override({**BODY, "created_by": "Ana Silva"}, OPS, DIRECTORY, NOW)
    assert (made.roster, made.layer, made.person, made.start, made.end, made.created_at, made.created_by) == (
        "ops",
        "primary",  # the default layer
        ZED,  # anyone in people.toml may cover, in the rotation or not
        datetime(2026, 12, 3, 9, tzinfo=UTC),
        datetime(2026, 12, 3, 17, tzinfo=UTC),
        NOW,
        "Ana Silva",
    )
    assert made.id == override_id("ops", "primary", ZED, made.start, made.end, NOW) and made.id.startswith("ovr-")
    assert parse_override(BODY, OPS, DIRECTORY, NOW).id == made.id  # same request, same instant: same row
    assert parse_override(BODY, OPS, DIRECTORY, NOW + timedelta(seconds=1)).id != made.id  # a newer one stacks
    local = parse_override(
        {**BODY, "person": "chloe@example.com", "start": "2026-12-04T09:00", "end": "+3d", "layer": "secondary"},
        OPS,
        DIRECTORY,
        NOW,
    )
    assert (local.person, local.layer, local.start, local.end) == (
        CHLOE,
        "secondary",
        datetime(2026, 12, 3, 22, tzinfo=UTC),  # 09:00 in Sydney, Chloe's zone
        datetime(2026, 12, 6, 22, tzinfo=UTC),  # a relative end counts from the start
    )


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"roster": "payments"}, "there is no roster 'payments'; rosters: ops"),
        ({"layer": "tertiary"}, "roster 'ops' has no layer 'tertiary'; it has primary, secondary"),
        ({"person": "Nobody Known"}, "'Nobody Known' is not in people.toml; on-call people must be reachable"),
        ({"person": ...}, "person must be a non-empty string, got missing"),
        ({"person": " "}, "person must be a non-empty string, got ' '"),
        ({"start": 9}, "start must be a non-empty string, got 9"),
        (
            {"end": "2026-12-03T08:00Z"},
            "the override must end after it starts (2026-12-03T09:00:00.000Z → 2026-12-03T08:00:00.000Z)",
        ),
        (
            {"start": "2026-12-01T00:00Z", "end": "2026-12-02T10:00Z"},
            "the override ended in the past (2026-12-02T10:00:00.000Z)",
        ),
        ({"end": "2027-03-04T09:00Z"}, "the override lasts 91 days; the limit is 90"),
        ({"start": "2028-01-01T00:00Z", "end": "2028-01-02T00:00Z"}, "the override starts more than a year ahead"),
        ({"created_by": ""}, "created_by must be a non-empty string, got ''"),
        ({"persn": "typo"}, "unknown field 'persn'; expected roster, layer, person, start, end, created_by"),
        ({"person": "x" * 201}, "person is 201 characters; the limit is 200"),
    ],
)
def test_a_bad_override_is_refused_with_the_reason(changes, detail):
    body = {key: value for key, value in {**BODY, **changes}.items() if value is not ...}  # ...: leave it out
    with pytest.raises(InvalidInput) as raised:
        parse_override(body, OPS, DIRECTORY, NOW)
    assert raised.value.detail == detail


def test_the_teams_command_passes_resolved_instants_and_who_asked():
    made = new_override(
        OPS,
        DIRECTORY,
        roster="OPS",
        person="Ana Silva",
        start=NOW,
        end=NOW + timedelta(hours=8),
        now=NOW,
        created_by="Ben Cole",
    )
    assert (made.roster, made.person, made.start, made.end, made.created_by) == (
        "ops",
        ANA,
        NOW,
        NOW + timedelta(hours=8),
        "Ben Cole",
    )
