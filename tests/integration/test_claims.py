"""Claims on ledger rows (shared.core.claims) in Azurite: one holder at a time works on a row until it settles it;
and the two ledgers that claim through it keep their own rows (escalation steps, a person's contacts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.contacts.ledger import CONTACT_HOLD, ContactLedger
from shared.core.claims import CLAIMED, Claim, claim_row
from shared.notifications.ledger import CLAIM_HOLD, CLAIM_LEASE, EscalationLedger
from shared.notifications.policy import Position

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
HOLD = timedelta(seconds=30)
FIRST = Position(1, 0)


@pytest.fixture
def table(storage_account):
    return storage_account.table("claims")


def row(table) -> dict:
    """The claim row's fields, and its ETag (what any write changes)."""
    found = table.get_entity("INC-1", "step")
    fields = {name: found[name] for name in found if name not in ("PartitionKey", "RowKey")}
    return fields | {"etag": found.metadata["etag"]}


def claimed(table) -> dict:
    return {name: value for name, value in row(table).items() if name != "etag"}


def held(holder: str, until: datetime, holder_field: str = "holder", **fields) -> dict:
    return {"state": CLAIMED, holder_field: holder, **fields, "until": until}


def claim(table, holder: str, now: datetime, **options) -> Claim:
    return claim_row(table, "INC-1", "step", holder, now, HOLD, first={"first_at": now}, **options)


def test_the_first_claim_is_new_and_writes_the_row_held_for_the_hold(table):
    assert claim(table, "m-1", NOW) == Claim.NEW
    assert claimed(table) == held("m-1", NOW + HOLD, first_at=NOW)


def test_another_holder_leaves_a_live_claim_alone_and_changes_nothing(table):
    claim(table, "m-1", NOW)
    before = row(table)
    assert claim(table, "m-2", NOW + HOLD - timedelta(seconds=1)) == Claim.HELD
    assert row(table) == before


def test_the_same_holder_carries_on_at_once_and_holds_it_again_keeping_the_first_fields(table):
    claim(table, "m-1", NOW)
    later = NOW + timedelta(seconds=5)
    assert claim(table, "m-1", later) == Claim.OURS
    assert claimed(table) == held("m-1", later + HOLD, first_at=NOW)


def test_a_claim_whose_hold_ran_out_is_taken_over_by_another_holder(table):
    claim(table, "m-1", NOW)
    later = NOW + HOLD
    assert claim(table, "m-2", later) == Claim.OURS
    assert claimed(table) == held("m-2", later + HOLD, first_at=NOW)


def test_a_settled_row_is_done_for_every_holder_and_stays_as_it_was(table):
    claim(table, "m-1", NOW)
    table.update_entity({"PartitionKey": "INC-1", "RowKey": "step", "state": "sent"})
    before = row(table)
    assert claim(table, "m-1", NOW + timedelta(seconds=1)) == Claim.DONE
    assert claim(table, "m-2", NOW + timedelta(hours=1)) == Claim.DONE
    assert row(table) == before


def test_of_two_holders_taking_over_a_lapsed_claim_the_one_that_loses_the_etag_race_is_held(table):
    claim(table, "m-1", NOW)
    later = NOW + HOLD + timedelta(seconds=1)

    def m3_takes_it_first(found) -> datetime:
        # Between m-2's read and its write, m-3 takes the lapsed claim over: m-2's ETag is stale now.
        assert claim(table, "m-3", later) == Claim.OURS
        return found["until"]

    assert claim(table, "m-2", later, held_until=m3_takes_it_first) == Claim.HELD
    assert claimed(table) == held("m-3", later + HOLD, first_at=NOW)


def test_the_row_names_its_holder_and_renews_fields_as_the_caller_says(table):
    renewed = {"claimed_at": NOW}
    assert claim_row(table, "INC-1", "step", "m-1", NOW, HOLD, holder_field="message", renewed=renewed) == Claim.NEW
    later = NOW + HOLD
    again = claim_row(table, "INC-1", "step", "m-2", later, HOLD, holder_field="message", renewed={"claimed_at": later})
    assert again == Claim.OURS
    assert claimed(table) == held("m-2", later + HOLD, holder_field="message", claimed_at=later)


# --- the ledgers' own rows -----------------------------------------------------------------------------------------
def test_an_escalation_step_taken_over_starts_its_claim_again(storage_account):
    ledger = EscalationLedger(storage_account)
    assert ledger.claim_step("INC-1", FIRST, "m-1", NOW) == Claim.NEW
    assert ledger.claim_step("INC-1", FIRST, "m-2", NOW + CLAIM_HOLD - timedelta(seconds=1)) == Claim.HELD
    later = NOW + CLAIM_HOLD
    assert ledger.claim_step("INC-1", FIRST, "m-2", later) == Claim.OURS
    step = ledger.step("INC-1", FIRST)
    assert (step.state, step.message_id, step.claimed_at, step.held_until) == (
        CLAIMED,
        "m-2",
        later,
        later + CLAIM_HOLD,
    )


def test_an_escalation_claim_written_before_holds_existed_is_held_for_the_lease_from_its_claim(storage_account):
    ledger = EscalationLedger(storage_account)
    old = {"PartitionKey": "INC-1", "RowKey": f"step-{FIRST.key()}", "state": CLAIMED, "message": "m-1"}
    ledger.table.create_entity({**old, "claimed_at": NOW})
    assert ledger.claim_step("INC-1", FIRST, "m-2", NOW + CLAIM_LEASE - timedelta(seconds=1)) == Claim.HELD
    assert ledger.claim_step("INC-1", FIRST, "m-2", NOW + CLAIM_LEASE) == Claim.OURS
    assert ledger.step("INC-1", FIRST).held_until == NOW + CLAIM_LEASE + CLAIM_HOLD


def test_a_contact_taken_over_keeps_its_first_attempt_so_the_sms_repeats_the_same_request(storage_account):
    ledger = ContactLedger(storage_account)
    assert ledger.claim("INC-1", "p1-tim-1-sms", "m-1", NOW) == Claim.NEW
    assert ledger.claim("INC-1", "p1-tim-1-sms", "m-2", NOW + CONTACT_HOLD - timedelta(seconds=1)) == Claim.HELD
    assert ledger.claim("INC-1", "p1-tim-1-sms", "m-2", NOW + CONTACT_HOLD) == Claim.OURS
    record = ledger.record("INC-1", "p1-tim-1-sms")
    assert (record.state, record.holder, record.first_attempt) == (CLAIMED, "m-2", NOW)
    ledger.settle("INC-1", "p1-tim-1-sms", "sent", NOW + CONTACT_HOLD, message_id="sms-1")
    assert ledger.claim("INC-1", "p1-tim-1-sms", "m-3", NOW + timedelta(hours=1)) == Claim.DONE
