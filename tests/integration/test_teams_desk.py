"""Teams commands about the team — oncall, override, maintenance — through the real app, signed as Teams signs."""

from __future__ import annotations

from datetime import timedelta

from shared.core.timeutil import utc_now
from shared.oncall.override_store import OverrideStore
from shared.oncall.people import load_directory
from shared.statuspage.maintenance_store import MaintenanceStore
from tests.conftest import ROOT
from tests.integration.test_teams_chatops import say


def _overrides(storage_account, roster: str):
    now = utc_now()
    store = OverrideStore(storage_account, load_directory(ROOT / "config"))
    return store.overlapping(roster, now - timedelta(days=1), now + timedelta(days=30))


def test_oncall_names_who_covers_each_layer_of_each_roster(teams):
    reply = say(teams, "oncall")["text"]
    assert reply.startswith("On call at ")
    assert "**Payments** (`payments`)" in reply and "**Platform** (`platform`)" in reply
    assert "- primary: " in reply and "- secondary: " in reply
    one = say(teams, "oncall payments")["text"]
    assert "**Payments**" in one and "Platform" not in one


def test_an_override_from_teams_is_stored_and_wins_in_the_next_oncall_reply(teams, storage_account):
    reply = say(teams, "override payments Priya Raman now +8h", name="Larry Brown")["text"]
    assert reply.startswith("**payments** primary: Priya Raman is on call from ")
    (override,) = _overrides(storage_account, "payments")
    assert (override.person.name, override.layer, override.created_by) == ("Priya Raman", "primary", "Larry Brown")
    assert override.end - override.start == timedelta(hours=8)
    assert "- primary: **Priya Raman** (override) until " in say(teams, "oncall payments")["text"]


def test_a_refused_override_says_why_and_stores_nothing(teams, storage_account):
    assert say(teams, "override payments Nobody Known now +8h")["text"] == (
        "'Nobody Known' is not in people.toml; on-call people must be reachable"
    )
    assert say(teams, "override nowhere Priya Raman now +8h")["text"] == (
        "there is no roster 'nowhere'; rosters: payments, platform"
    )
    assert _overrides(storage_account, "payments") == []


def test_maintenance_is_scheduled_listed_and_cancelled_from_teams(teams, storage_account):
    start = (utc_now() + timedelta(days=1)).replace(microsecond=0)
    text = f"maintenance checkout {start.isoformat().replace('+00:00', 'Z')} +2h Database upgrade"
    reply = say(teams, text)["text"]
    assert reply.startswith("Scheduled **MNT-1** Database upgrade — Checkout, ")
    (maintenance,) = MaintenanceStore(storage_account).list_maintenances()
    assert (maintenance.components, maintenance.scheduled_until - maintenance.scheduled_for) == (
        ("Checkout",),
        timedelta(hours=2),
    )
    assert "**MNT-1** Database upgrade" in say(teams, "maintenance list")["text"]
    assert say(teams, "maintenance cancel MNT-1")["text"].startswith("Cancelled **MNT-1**")
    assert MaintenanceStore(storage_account).get("MNT-1").cancelled_at is not None


def test_a_maintenance_time_without_a_zone_is_refused(teams, storage_account):
    reply = say(teams, "maintenance checkout 2026-12-24T01:00 +2h Upgrade")["text"]
    assert reply == "from '2026-12-24T01:00' has no time zone; add one, e.g. 2026-12-24T01:00Z"
    assert MaintenanceStore(storage_account).list_maintenances() == []
