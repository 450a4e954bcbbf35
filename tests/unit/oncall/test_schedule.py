"""oncall.toml: rosters, layers and rotations load into a Schedule, and every mistake is refused with file, key and
problem — unknown keys, people missing from people.toml, malformed times, a weekly start on the wrong weekday."""

from __future__ import annotations

import logging
import shutil
import tomllib
from datetime import date, time
from pathlib import Path

import pytest

from functions import context
from shared.catalog.services import load_catalog, parse_catalog
from shared.core.errors import ConfigurationError, NotFound
from shared.oncall.people import Directory, Person, load_directory
from shared.oncall.rotation import WeeklyWindow
from shared.oncall.schedule import check_service_rosters, load_schedule, parse_schedule
from tests.conftest import ROOT

ANA = Person("Ana Silva", "ana@example.com", "Europe/London")
BEN = Person("Ben Cole", "ben@example.com", "America/New_York")
CHLOE = Person("Chloe Wu", "chloe@example.com", "Australia/Sydney")
DEV = Person("Dev Patel", "dev@example.com", "Asia/Tokyo")
EVE = Person("Eve Moreno", "eve@example.com", "America/Los_Angeles")
FINN = Person("Finn Berg", "finn@example.com", "Europe/London")
ZED = Person("Zed Outsider", "zed@example.com", "Europe/Berlin")  # in people.toml, in no rotation
DIRECTORY = Directory((ANA, BEN, CHLOE, DEV, EVE, FINN, ZED))
SOURCE = "config/oncall.toml"

BASE = """
[[roster]]
id = "ops"
name = "Operations"
time_zone = "Europe/London"

  [[roster.layer]]
  name = "primary"

    [[roster.layer.rotation]]
    name = "days"
    kind = "custom"
    shift_days = 3
    members = ["Ana Silva", "Ben Cole", "Chloe Wu"]
    handoff_time = "09:00"
    start = 2026-01-05
"""


def schedule_from(text: str, directory: Directory = DIRECTORY):
    return parse_schedule(tomllib.loads(text), SOURCE, directory)


def refused(text: str) -> str:
    with pytest.raises(ConfigurationError) as raised:
        schedule_from(text)
    return raised.value.detail


def test_a_roster_loads_with_its_layers_rotations_and_defaults():
    schedule = schedule_from(
        BASE
        + """
    [[roster.layer.rotation]]
    name = "weekends"
    kind = "weekly"
    members = ["finn@example.com", "Ana Silva", "Ben Cole"]
    handoff_weekday = "fri"
    handoff_time = 17:00:00
    time_zone = "America/New_York"
    start = "2026-01-02"
    windows = ["fri 17:00 - mon 09:00"]

  [[roster.layer]]
  name = "secondary"

    [[roster.layer.rotation]]
    name = "office"
    kind = "follow_the_sun"
    members = ["Dev Patel", "Eve Moreno"]
    hours = "08:00-17:00"
"""
    )
    roster = schedule.roster("OPS")
    assert (roster.id, roster.name, roster.time_zone, roster.workflow_url) == (
        "ops",
        "Operations",
        "Europe/London",
        None,
    )
    days, weekends = roster.layer("primary").rotations
    assert (days.kind, days.members, days.time_zone, days.shift_days, days.start, days.handoff_time) == (
        "custom",
        (ANA, BEN, CHLOE),
        "Europe/London",  # the roster's zone by default
        3,
        date(2026, 1, 5),
        time(9, 0),
    )
    assert days.windows == () and days.around_the_clock
    assert (weekends.members, weekends.shift_days, weekends.time_zone, weekends.handoff_time) == (
        (FINN, ANA, BEN),
        7,
        "America/New_York",
        time(17, 0),
    )
    # Friday 17:00 is 4×1440 + 1020 minutes into the week; until Monday 09:00 is 64 hours.
    assert weekends.windows == (WeeklyWindow(4 * 1440 + 1020, 64 * 60),) and not weekends.around_the_clock
    (office,) = roster.layer("secondary").rotations
    # Follow-the-sun works Monday to Friday unless told otherwise.
    assert office.windows == tuple(WeeklyWindow(day * 1440 + 480, 540) for day in range(5))
    assert roster.layer("primary").members == (ANA, BEN, CHLOE, FINN)
    assert schedule.health.gap_days == 14 and schedule.calendar_weeks == 8
    with pytest.raises(NotFound, match="roster 'ops' has no layer 'tertiary'; it has primary, secondary"):
        roster.layer("tertiary")
    with pytest.raises(NotFound, match="there is no roster 'payments'; rosters: ops"):
        schedule.roster("payments")


def test_days_and_hours_become_weekly_windows_including_past_midnight_and_whole_days():
    nights = schedule_from(BASE + '    days = ["sat", "sunday"]\n    hours = "22:00-06:00"\n')
    (rotation,) = nights.roster("ops").layer("primary").rotations
    assert rotation.windows == (WeeklyWindow(5 * 1440 + 1320, 480), WeeklyWindow(6 * 1440 + 1320, 480))
    whole = schedule_from(BASE + '    days = ["sat", "sun"]\n')
    (rotation,) = whole.roster("ops").layer("primary").rotations
    assert rotation.windows == (WeeklyWindow(5 * 1440, 1440), WeeklyWindow(6 * 1440, 1440))


ROTATION = "config/oncall.toml: roster[0].layer[0].rotation[0]"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("handoff_time", '"09:00"', '"9am"'),
            f"{ROTATION}.handoff_time: '9am' is not a time of day HH:MM",
        ),
        (("handoff_time", '"09:00"', '"24:00"'), f"{ROTATION}.handoff_time: '24:00' is not a time of day HH:MM"),
        (
            ("shift_days", "3", "0"),
            f"{ROTATION}.shift_days: must be a whole number from 1 to 28, got 0",
        ),
        (
            ("start", "2026-01-05", '"next monday"'),
            f"{ROTATION}.start: must be the date of the first hand-off, e.g. 2026-01-05, got 'next monday'",
        ),
        (
            ("members", '["Ana Silva", "Ben Cole", "Chloe Wu"]', '["Ana Silva", "Nobody Known"]'),
            f"{ROTATION}.members[1]: 'Nobody Known' is not in people.toml (on-call people must be reachable)",
        ),
        (
            ("members", '["Ana Silva", "Ben Cole", "Chloe Wu"]', '["Ana Silva", "ana@example.com"]'),
            f"{ROTATION}.members[1]: 'Ana Silva' is listed twice",
        ),
        (
            ("members", '["Ana Silva", "Ben Cole", "Chloe Wu"]', "[]"),
            f"{ROTATION}.members: must be a non-empty list of names or emails from people.toml",
        ),
        (
            ("kind", '"custom"', '"fortnightly"'),
            f"{ROTATION}.kind: must be one of weekly, daily, custom, follow_the_sun, got 'fortnightly'",
        ),
        (
            ("shift_days", "shift_days = 3", 'time_zone = "Mars/Olympus"'),
            f"{ROTATION}.time_zone: 'Mars/Olympus' is not an IANA time zone",
        ),
        (
            ("shift_days", "shift_days = 3", 'shift_days = 3\n    handof_time = "10:00"'),
            f"{ROTATION}.handof_time: unknown key; expected one of days, handoff_time, hours, kind, members, name, "
            "shift_days, start, time_zone, windows",
        ),
    ],
)
def test_a_bad_rotation_is_refused_naming_file_key_and_problem(change, message):
    _key, old, new = change
    assert old in BASE
    assert refused(BASE.replace(old, new, 1)) == message


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('    hours = "9-17"\n', f'{ROTATION}.hours: must be "HH:MM-HH:MM", e.g. "09:00-17:00", got \'9-17\''),
        ('    hours = "09:00"\n', f'{ROTATION}.hours: must be "HH:MM-HH:MM", e.g. "09:00-17:00", got \'09:00\''),
        (
            '    hours = "09:00-09:00"\n',
            f"{ROTATION}.hours: '09:00-09:00' is empty; use \"00:00-24:00\" for the whole day",
        ),
        ('    days = ["someday"]\n', f"{ROTATION}.days: 'someday' is not a weekday (monday … sunday, or mon … sun)"),
        ('    days = ["sat", "saturday"]\n', f"{ROTATION}.days: a day is listed twice"),
        (
            '    windows = ["fri 17:00 - fri 17:00"]\n',
            f"{ROTATION}.windows[0]: 'fri 17:00 - fri 17:00' is a whole week; leave windows out for around the clock",
        ),
        (
            '    windows = ["friday evening"]\n',
            f'{ROTATION}.windows[0]: must be "<day> HH:MM - <day> HH:MM", e.g. "fri 17:00 - mon 09:00"',
        ),
        (
            '    windows = ["fri 17:00 - mon 09:00"]\n    days = ["sat"]\n',
            f"{ROTATION}.windows: give either windows or days and hours, not both",
        ),
    ],
)
def test_bad_days_hours_and_windows_are_refused(extra, message):
    assert refused(BASE + extra) == message


def test_a_weekly_rotation_must_start_on_its_hand_off_weekday():
    text = BASE.replace('kind = "custom"\n    shift_days = 3', 'kind = "weekly"\n    handoff_weekday = "monday"')
    assert schedule_from(text).roster("ops").layer("primary").rotations[0].shift_days == 7
    assert refused(text.replace("2026-01-05", "2026-01-06")) == (
        f"{ROTATION}.start: 2026-01-06 is a tuesday; a rotation handing off on mondays must start on a monday"
    )
    assert refused(text.replace('handoff_weekday = "monday"', 'handoff_weekday = "mo"')) == (
        f"{ROTATION}.handoff_weekday: 'mo' is not a weekday (monday … sunday, or mon … sun)"
    )


def test_follow_the_sun_needs_hours_and_takes_each_members_own_zone():
    text = BASE.replace('kind = "custom"\n    shift_days = 3\n', 'kind = "follow_the_sun"\n')
    text = text.replace('    handoff_time = "09:00"\n    start = 2026-01-05\n', "")
    assert refused(text) == f'{ROTATION}.hours: follow_the_sun needs the working hours, e.g. "09:00-17:00"'
    assert refused(text + '    hours = "09:00-17:00"\n    time_zone = "UTC"\n').startswith(
        f"{ROTATION}.time_zone: unknown key; expected one of days, hours, kind, members, name, windows"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            BASE + "\n[extra]\n",
            f"{SOURCE}.extra: unknown key; expected one of calendar, health, roster, rotation_limits",
        ),
        (
            BASE.replace('id = "ops"', 'id = "Ops Team"'),
            f"{SOURCE}: roster[0].id: 'Ops Team' must be lower-case letters, digits, '-' or '_' (at most 40), "
            "as in URLs",
        ),
        (
            BASE.replace('name = "primary"', 'name = "first"'),
            f"{SOURCE}: roster[0].layer: a roster needs a 'primary' layer ([[roster.layer]])",
        ),
        (BASE + BASE, f"{SOURCE}: roster[1].id: 'ops' is used twice"),
        (
            BASE.replace('time_zone = "Europe/London"', 'workflow_url = "http://example.com/hook"'),
            f"{SOURCE}: roster[0].workflow_url: must be an https URL, got 'http://example.com/hook'",
        ),
        (
            "[health]\ngap_days = 0\n" + BASE,
            f"{SOURCE}: health.gap_days: must be a whole number from 1 to 90, got 0",
        ),
        (
            "[health]\ngaps = 3\n" + BASE,
            f"{SOURCE}: health.gaps: unknown key; expected one of gap_days",
        ),
        ("[health]\nmin_people = 3\n" + BASE, f"{SOURCE}: health.min_people: moved to [rotation_limits] min_people"),
        (
            "[rotation_limits]\nmax_shift_days = 0\n" + BASE,
            f"{SOURCE}: rotation_limits.max_shift_days: must be a whole number from 1 to 28, got 0",
        ),
        (
            '[rotation_limits]\nmin_people = "three"\n' + BASE,
            f"{SOURCE}: rotation_limits.min_people: must be a whole number from 1 to 50, got 'three'",
        ),
        (
            "[rotation_limits]\nmax_shift_hours = 72\n" + BASE,
            f"{SOURCE}: rotation_limits.max_shift_hours: unknown key; expected one of max_shift_days, min_people",
        ),
        (
            '[[roster]]\nid = "ops"\n[[roster.layer]]\nname = "primary"\n',
            f"{SOURCE}: roster[0].layer[0].rotation: a layer needs at least one rotation ([[roster.layer.rotation]])",
        ),
    ],
)
def test_bad_rosters_and_settings_are_refused(text, message):
    assert refused(text) == message


def test_the_example_configuration_is_valid_and_names_every_roster_the_services_use():
    config = ROOT / "config"
    schedule = load_schedule(config, load_directory(config))
    assert [(r.id, [layer.name for layer in r.layers]) for r in schedule.rosters] == [
        ("payments", ["primary", "secondary"]),
        ("platform", ["primary", "secondary"]),
    ]
    catalog = load_catalog(config)
    named = {service.roster for service in (*catalog.services, catalog.default)}
    assert named == {"payments", "platform"}
    check_service_rosters(catalog, schedule, "services.toml")  # raises when a roster is missing


def test_a_service_naming_a_missing_roster_is_a_configuration_error():
    catalog = parse_catalog(
        {"default": {"roster": "ops"}, "service": [{"id": "api", "component": "API", "roster": "payments"}]},
        "config/services.toml",
    )
    with pytest.raises(ConfigurationError) as raised:
        check_service_rosters(catalog, schedule_from(BASE), "config/services.toml")
    assert raised.value.detail == (
        "config/services.toml: service[0].roster: 'payments' is not a roster in oncall.toml; rosters: ops"
    )


def test_without_oncall_toml_there_are_no_rosters(tmp_path: Path):
    assert load_schedule(tmp_path, DIRECTORY).rosters == ()
    (tmp_path / "oncall.toml").write_text("[[roster]\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"oncall\.toml: not valid TOML"):
        load_schedule(tmp_path, DIRECTORY)


def test_the_start_up_check_reports_a_missing_roster_and_logs_schedule_warnings(tmp_path, monkeypatch, caplog):
    for name in ("services.toml", "people.toml"):
        shutil.copy(ROOT / "config" / name, tmp_path / name)
    # Only a platform roster, whose only rotation is two people on weekdays 09:00–17:00 in London.
    (tmp_path / "oncall.toml").write_text(
        '[[roster]]\nid = "platform"\n[[roster.layer]]\nname = "primary"\n[[roster.layer.rotation]]\n'
        'name = "office"\nkind = "daily"\nmembers = ["Larry Brown", "Grace Okafor"]\nhandoff_time = "09:00"\n'
        'start = 2026-01-05\ntime_zone = "Europe/London"\nhours = "09:00-17:00"\n'
        'days = ["mon", "tue", "wed", "thu", "fri"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")  # storage is checked too: set
    context.reset()
    try:
        with caplog.at_level(logging.WARNING, logger="firebell.configuration"):
            problems = context.check()
    finally:
        context.reset()
    assert problems == [
        f"{tmp_path / 'services.toml'}: service[0].roster: 'payments' is not a roster in oncall.toml; rosters: platform"
    ]
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("on-call")]
    # Restricted to office hours, the rotation is not 24×7: only its gaps are reported, every night and weekend.
    assert warnings and all(w.startswith("on-call gap: platform primary: nobody is on call from ") for w in warnings)
