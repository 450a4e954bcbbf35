"""Teams Workflows down for minutes while incidents open, with time made fast (chaos.outages over
chaos.simulated_host: the real notifications and escalations flows and the sweeper, Azurite, and the Workflows
stand-in answering 5xx or timing out): every page goes out after the outage, exactly once, and nothing is poisoned;
past the outage bound the last delivery writes the failure on the timeline and /api/health/details counts the poison."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from chaos.outages import (
    EXPECTED_PAGES,
    FIRST_PAGE,
    SECOND_PAGE,
    past_bound_broken,
    workflows_broken,
    workflows_outage,
    write_config,
)
from tests.standins.workflow_server import WorkflowServer


@pytest.fixture
def workflow() -> Iterator[WorkflowServer]:
    with WorkflowServer() as server:
        yield server


@pytest.mark.parametrize(
    ("minutes", "incidents", "timeouts"),
    [
        pytest.param(1, 4, timedelta(seconds=5), id="1 min, 4 incidents, timeouts then 5xx"),
        pytest.param(5, 4, timedelta(0), id="5 min, 4 incidents"),
        pytest.param(30, 2, timedelta(0), id="30 min, 2 incidents"),
    ],
)
def test_every_page_goes_out_once_after_a_workflows_outage(
    azurite, storage_account, workflow, tmp_path, minutes, incidents, timeouts
):
    outage = timedelta(minutes=minutes)
    seen = workflows_outage(
        azurite.connection_string,
        write_config(tmp_path / "config"),
        workflow,
        incidents=incidents,
        outage=outage,
        timeout_window=timeouts,
        sweeper_every=timedelta(seconds=10 if minutes < 30 else 60),  # fewer ticks: each costs storage round trips
    )
    # Every card — the first page, the commander's role card, the second page five minutes later — exactly once.
    assert sorted(set(seen.cards.values())) == [1]
    assert len(seen.cards) == seen.expected_cards == 3 * incidents
    assert seen.failed_requests > 0 and (seen.timeouts > 0) == (timeouts > timedelta(0))
    # Nothing arrived during the outage, and the first pages went out on the first delivery after it.
    assert min(seen.card_times.values()) >= seen.outage_end
    assert seen.last_after_end("Paging", FIRST_PAGE) <= timedelta(minutes=5)  # at most one pause
    assert seen.poison == 0 and seen.swept == 0  # deferred, not poisoned; the sweeper left the held pages alone
    assert all(notes == [] for notes in seen.failed_notes.values())
    assert seen.paged_notes == {ident: EXPECTED_PAGES for ident in seen.paged_notes}
    assert workflows_broken(seen) == []  # what make chaos checks


def test_past_the_outage_bound_the_held_cards_fail_on_the_timeline_and_the_next_step_pages_after_it(
    azurite, storage_account, workflow, tmp_path
):
    from azure.functions import HttpRequest

    from functions.health import health_details

    seen = workflows_outage(
        azurite.connection_string,
        write_config(tmp_path / "config"),
        workflow,
        incidents=1,
        outage=timedelta(hours=1),
        sweeper_every=timedelta(minutes=1),
    )
    # Deferred for 45 minutes, then delivered five times more: the fifth writes the failure and goes to poison —
    # the first page and the role card of each incident. Escalation went on: the second step pages after the outage.
    failed = "notification failed: HTTP 500 from Workflows after 3 attempts"  # minute 45 of the outage answered 500
    assert seen.failed_notes == {"INC-1": [failed, failed]}
    assert seen.paged_notes == {"INC-1": [f"paged Priya Raman ({SECOND_PAGE})"]}
    assert dict(seen.cards) == {("INC-1", "Paging", SECOND_PAGE): 1}
    assert seen.first_page_deliveries == [13 + 5]  # the message and 12 copies deferred it; the 13th copy failed 5 times
    assert seen.poison == 2 and seen.swept == 0
    answer = health_details(HttpRequest("GET", "/api/health/details", body=b""))
    seen.health_poison = json.loads(answer.get_body())["poison_messages"]
    assert seen.health_poison == 2
    assert past_bound_broken(seen) == []
