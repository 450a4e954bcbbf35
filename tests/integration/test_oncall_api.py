"""The on-call API of the real FunctionApp (in-process devhost, Azurite, the example config/oncall.toml): who is on
call now and next, the iCalendar export, overrides set and listed, and bad input refused with nothing stored."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
import requests
from icalendar import Calendar

from shared.core.timeutil import iso, utc_now
from tests.conftest import ROOT

KEY = "oncall-test-key"
AT = "2026-12-02T12:00:00Z"  # a Wednesday


@pytest.fixture
def api(firebell, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    return firebell


def call(method: str, url: str, key: str | None = KEY, **kwargs) -> requests.Response:
    return requests.request(method, url, headers={"x-functions-key": key} if key else {}, timeout=30, **kwargs)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def person(name: str, email: str, zone: str) -> dict:
    return {"name": name, "email": email, "time_zone": zone}


LARRY = person("Larry Brown", "larry.brown@example.com", "Europe/London")
GRACE = person("Grace Okafor", "grace.okafor@example.com", "Europe/London")
SOFIA = person("Sofia García", "sofia.garcia@example.com", "Europe/Madrid")
TIM = person("Tim Jones", "tim.jones@example.com", "America/Denver")
AIKO = person("Aiko Tanaka", "aiko.tanaka@example.com", "Asia/Tokyo")
MARCUS = person("Marcus Lee", "marcus.lee@example.com", "America/Los_Angeles")


def shift(who: dict, start: str, end: str, override: bool = False) -> dict:
    return {"person": who, "start": start, "end": end, "override": override}


def rotation(layer: str, name: str, kind: str, around_the_clock: bool, people: int, within: bool = True) -> dict:
    return {
        "layer": layer,
        "rotation": name,
        "kind": kind,
        "around_the_clock": around_the_clock,
        "people": people,
        "within_limits": within,
    }


def longest(layer: str, hours: float, start: str, end: str, within: bool = True) -> dict:
    return {"layer": layer, "longest_shift_hours": hours, "start": start, "end": end, "within_limits": within}


DEFAULT_LIMITS = {"max_shift_days": 4, "min_people": 3}


def test_who_is_on_call_now_and_next_per_roster_and_layer(api):
    answer = call("GET", f"{api}/oncall", params={"at": AT})
    assert answer.status_code == 200
    assert answer.json() == {
        "at": "2026-12-02T12:00:00.000Z",
        "rosters": [
            {
                "id": "payments",
                "name": "Payments",
                "time_zone": "Europe/London",
                "layers": [
                    # Daily shifts from Monday 5 January 09:00 London: day 331 is Tim's (331 mod 4 = 3).
                    {
                        "layer": "primary",
                        "now": shift(TIM, "2026-12-02T09:00:00.000Z", "2026-12-03T09:00:00.000Z"),
                        "next": shift(LARRY, "2026-12-03T09:00:00.000Z", "2026-12-04T09:00:00.000Z"),
                    },
                    # Four-day shifts: shift 82 (Larry) began 29 November.
                    {
                        "layer": "secondary",
                        "now": shift(LARRY, "2026-11-29T09:00:00.000Z", "2026-12-03T09:00:00.000Z"),
                        "next": shift(GRACE, "2026-12-03T09:00:00.000Z", "2026-12-07T09:00:00.000Z"),
                    },
                ],
                "problems": [],
                # Whoever holds Friday's daily shift keeps the weekend too: 72 hours; the backup's 4-day shifts.
                "rotation_limits": {
                    "compliant": True,
                    "limits": DEFAULT_LIMITS,
                    "rotations": [
                        rotation("primary", "weekdays", "daily", True, 4),
                        rotation("primary", "weekends", "weekly", False, 3),
                        rotation("secondary", "backup", "custom", True, 4),
                    ],
                    "layers": [
                        longest("primary", 72.0, "2026-12-04T09:00:00.000Z", "2026-12-07T09:00:00.000Z"),
                        longest("secondary", 96.0, "2026-11-29T09:00:00.000Z", "2026-12-03T09:00:00.000Z"),
                    ],
                },
            },
            {
                "id": "platform",
                "name": "Platform",
                "time_zone": "UTC",
                "layers": [
                    # Follow-the-sun: London from 08:00 GMT until Denver's 08:00 MST (15:00Z).
                    {
                        "layer": "primary",
                        "now": shift(LARRY, "2026-12-02T08:00:00.000Z", "2026-12-02T15:00:00.000Z"),
                        "next": shift(TIM, "2026-12-02T15:00:00.000Z", "2026-12-02T23:00:00.000Z"),
                    },
                    {
                        "layer": "secondary",
                        "now": shift(AIKO, "2026-12-01T16:00:00.000Z", "2026-12-04T16:00:00.000Z"),
                        "next": shift(LARRY, "2026-12-04T16:00:00.000Z", "2026-12-07T16:00:00.000Z"),
                    },
                ],
                "problems": [],
                # The weekend runs Saturday 08:00 to Monday 08:00 in Tokyo (Friday 23:00Z to Sunday 23:00Z).
                "rotation_limits": {
                    "compliant": True,
                    "limits": DEFAULT_LIMITS,
                    "rotations": [
                        rotation("primary", "follow-the-sun", "follow_the_sun", False, 3),
                        rotation("primary", "weekends", "weekly", False, 4),
                        rotation("secondary", "backup", "custom", True, 4),
                    ],
                    "layers": [
                        longest("primary", 48.0, "2026-12-04T23:00:00.000Z", "2026-12-06T23:00:00.000Z"),
                        longest("secondary", 72.0, "2026-12-01T16:00:00.000Z", "2026-12-04T16:00:00.000Z"),
                    ],
                },
            },
        ],
    }
    one = call("GET", f"{api}/oncall", params={"at": AT, "roster": "platform"}).json()
    assert [roster["id"] for roster in one["rosters"]] == ["platform"]


def test_an_unknown_roster_is_404_and_a_bad_instant_400(api):
    missing = call("GET", f"{api}/oncall", params={"roster": "billing"})
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "not_found", "detail": "there is no roster 'billing'; rosters: payments, platform"},
    )
    bad = call("GET", f"{api}/oncall", params={"at": "yesterday"})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_input")
    for route, params in [
        ("oncall", {"at": "0001-01-01T00:00:00Z"}),
        ("oncall/payments.ics", {"at": "9999-12-01T00:00:00Z"}),
        ("oncall/overrides", {"from": "9999-12-31T00:00:00Z"}),
        ("oncall/payments.ics", {"weeks": "²"}),
    ]:
        answer = call("GET", f"{api}/{route}", params=params)
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_input"), (route, params)
    assert call("GET", f"{api}/oncall", key=None).status_code == 401
    ics = call("GET", f"{api}/oncall/billing.ics")
    assert (ics.status_code, ics.json()["error"]) == (404, "not_found")


def test_the_calendar_export_has_every_layers_shifts_in_utc_with_stable_uids(api):
    answer = call("GET", f"{api}/oncall/payments.ics", params={"at": AT, "weeks": "1"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(answer.content)
    assert (str(calendar["version"]), str(calendar["x-wr-calname"])) == ("2.0", "Payments on call")
    events = [(str(e["summary"]), e.decoded("dtstart"), e.decoded("dtend")) for e in calendar.walk("VEVENT")]
    assert events == [
        ("Payments secondary: Larry Brown", utc(2026, 11, 29, 9), utc(2026, 12, 3, 9)),  # the real start, not `at`
        ("Payments primary: Tim Jones", utc(2026, 12, 2, 9), utc(2026, 12, 3, 9)),
        ("Payments primary: Larry Brown", utc(2026, 12, 3, 9), utc(2026, 12, 4, 9)),
        ("Payments secondary: Grace Okafor", utc(2026, 12, 3, 9), utc(2026, 12, 7, 9)),
        # Grace's Friday and the weekend rotation's Friday 17:00 → Monday 09:00 are one unbroken shift.
        ("Payments primary: Grace Okafor", utc(2026, 12, 4, 9), utc(2026, 12, 7, 9)),
        ("Payments primary: Larry Brown", utc(2026, 12, 7, 9), utc(2026, 12, 8, 9)),
        ("Payments secondary: Sofia García", utc(2026, 12, 7, 9), utc(2026, 12, 9, 12)),  # the week ends at `at` + 7 d
        ("Payments primary: Grace Okafor", utc(2026, 12, 8, 9), utc(2026, 12, 9, 9)),
        ("Payments primary: Sofia García", utc(2026, 12, 9, 9), utc(2026, 12, 9, 12)),
    ]
    assert b"DTSTART:20261129T090000Z" in answer.content  # UTC, no VTIMEZONE needed
    uids = [str(e["uid"]) for e in calendar.walk("VEVENT")]
    assert len(set(uids)) == len(uids)
    # An hour later the same shifts keep their UIDs, so subscribed calendars update instead of duplicating.
    later = Calendar.from_ical(call("GET", f"{api}/oncall/payments.ics", params={"at": "2026-12-02T13:00:00Z"}).content)
    assert uids[:6] == [str(e["uid"]) for e in later.walk("VEVENT")][:6]


def test_an_override_set_through_the_api_shows_in_oncall_listings_and_the_calendar(api, storage_account):
    start = (utc_now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    body = {"roster": "payments", "person": "Marcus Lee", "start": iso(start), "end": iso(start + timedelta(hours=8))}
    created = call("POST", f"{api}/oncall/overrides", json={**body, "created_by": "Larry Brown"})
    assert created.status_code == 201
    document = created.json()
    assert {k: v for k, v in document.items() if k not in ("id", "created_at")} == {
        "roster": "payments",
        "layer": "primary",
        "person": MARCUS,
        "start": iso(start),
        "end": iso(start + timedelta(hours=8)),
        "created_by": "Larry Brown",
    }
    # A newer override for the last two hours of it, by someone else: the newest wins where they overlap.
    second = {**body, "person": "Sofia García", "start": iso(start + timedelta(hours=6))}
    assert call("POST", f"{api}/oncall/overrides", json=second).status_code == 201

    during = call("GET", f"{api}/oncall", params={"at": iso(start + timedelta(hours=1)), "roster": "payments"}).json()
    primary = during["rosters"][0]["layers"][0]
    assert primary["now"] == shift(MARCUS, iso(start), iso(start + timedelta(hours=6)), override=True)
    assert primary["next"] == shift(SOFIA, iso(start + timedelta(hours=6)), iso(start + timedelta(hours=8)), True)
    assert during["rosters"][0]["layers"][1]["now"]["override"] is False  # the secondary layer is untouched

    listed = call("GET", f"{api}/oncall/overrides", params={"roster": "payments"}).json()["overrides"]
    assert [(o["person"]["name"], o["start"]) for o in listed] == [
        ("Sofia García", iso(start + timedelta(hours=6))),  # newest first
        ("Marcus Lee", iso(start)),
    ]
    assert listed[1] == document
    # Only overlapping overrides are read: a window after both finds none.
    after = {"roster": "payments", "from": iso(start + timedelta(hours=8)), "to": iso(start + timedelta(days=1))}
    assert call("GET", f"{api}/oncall/overrides", params=after).json()["overrides"] == []

    ics = Calendar.from_ical(call("GET", f"{api}/oncall/payments.ics").content)
    overrides = [(str(e["summary"]), e.decoded("dtstart")) for e in ics.walk("VEVENT") if "override" in e["summary"]]
    assert overrides == [
        ("Payments primary: Marcus Lee (override)", start),
        ("Payments primary: Sofia García (override)", start + timedelta(hours=6)),
    ]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"roster": "billing"}, "there is no roster 'billing'; rosters: payments, platform"),
        ({"layer": "tertiary"}, "roster 'payments' has no layer 'tertiary'; it has primary, secondary"),
        ({"person": "Someone New"}, "'Someone New' is not in people.toml; on-call people must be reachable"),
        ({"end": "2020-01-01T00:00:00Z"}, "the override must end after it starts"),
        ({"start": "soon"}, "start 'soon' is not a time"),
        ({"nickname": "x"}, "unknown field 'nickname'"),
        ({"created_by": "Larry \ud800"}, "created_by contains U+D800 (a lone surrogate)"),
        ({"person": "Grace\x1b[2J"}, "person contains the control character U+001B"),
    ],
)
def test_a_bad_override_is_400_and_nothing_is_stored(api, storage_account, body, detail):
    valid = {"roster": "payments", "person": "Grace Okafor", "start": "+1h", "end": "+9h"}
    answer = call("POST", f"{api}/oncall/overrides", json={**valid, **body})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_input" and detail in answer.json()["detail"]
    assert list(storage_account.table("overrides").list_entities()) == []


def test_a_body_that_is_not_a_json_object_is_400(api, storage_account):
    answer = call("POST", f"{api}/oncall/overrides", data=b"[1, 2]")
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_json")
    assert list(storage_account.table("overrides").list_entities()) == []


def test_health_lists_schedule_warnings_without_turning_unhealthy(api, monkeypatch, tmp_path):
    healthy = call("GET", f"{api}/health/details").json()
    assert (healthy["oncall"], healthy["warnings"]) == ("ok", [])
    for name in ("services.toml", "people.toml"):
        shutil.copy(ROOT / "config" / name, tmp_path / name)
    text = (ROOT / "config" / "oncall.toml").read_text(encoding="utf-8")
    # The platform secondary layer shrinks to two people: too few for 24×7.
    text = text.replace(
        'members = ["Marcus Lee", "Priya Raman", "Aiko Tanaka", "Larry Brown"]',
        'members = ["Marcus Lee", "Priya Raman"]',
    )
    (tmp_path / "oncall.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(tmp_path))
    assert call("GET", f"{api}/health", key=None).text.count("platform") == 0  # anonymous: one word, no rosters
    answer = call("GET", f"{api}/health/details")
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["oncall"], answer.json()["warnings"]) == (
        "healthy",
        "warnings",
        ["platform secondary: the 24×7 rotation 'backup' has 2 people; at least 3 keep it sustainable"],
    )
    # GET /api/oncall says which limit the roster breaks, with the figure judged.
    limits = call("GET", f"{api}/oncall", params={"at": AT, "roster": "platform"}).json()["rosters"][0]
    assert limits["rotation_limits"]["compliant"] is False
    assert limits["rotation_limits"]["rotations"][2] == rotation("secondary", "backup", "custom", True, 2, False)
