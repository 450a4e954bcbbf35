"""Azure Boards throttling a burst of incidents, with time made fast (chaos.outages over chaos.simulated_host: the
real workitems flow and the azure-devops SDK against the Boards stand-in answering 429 with Retry-After): every
incident's work item is created exactly once after the storm, although each change message arrives twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from chaos.outages import boards_broken, boards_storm, write_config
from tests.standins.boards_server import BoardsServer


@pytest.fixture
def boards() -> Iterator[BoardsServer]:
    with BoardsServer() as server:
        yield server


def test_a_429_storm_delays_every_work_item_and_each_is_created_once_after_it(
    azurite, storage_account, boards, tmp_path
):
    seen = boards_storm(
        azurite.connection_string,
        write_config(tmp_path / "config"),
        boards,
        incidents=5,
        storm=timedelta(minutes=5),
        tail=timedelta(minutes=3),
    )
    incidents = [f"INC-{n}" for n in range(1, 6)]
    assert seen.throttled > 0 and seen.duplicates == 0
    assert dict(seen.items) == {ident: 1 for ident in incidents}
    assert sorted(seen.recorded.values()) == sorted(item.id for item in boards.work_items())
    assert seen.created_notes == {ident: 1 for ident in incidents}
    assert seen.failed_notes == {ident: [] for ident in incidents} and seen.poison == 0
    # Nothing got through the storm itself; the first deliveries after it created everything (a 30 % tail of 429s
    # deferred some by 5 s).
    storm_over = seen.storm_end - seen.tail
    assert storm_over <= seen.first_created <= seen.last_created <= storm_over + timedelta(minutes=2)
    assert seen.deliveries > 2 * 5  # every message was deferred at least once
    assert boards_broken(seen) == []


def test_the_stand_in_throttles_an_evenly_spread_share_of_requests_until_calm(boards):
    boards.throttle("7", fraction=0.3)
    answers = [requests.options(f"{boards.org_url}/_apis", auth=("", boards.pat), timeout=5) for _ in range(10)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 200, 200, 429, 200, 200, 429]
    assert {answer.headers.get("Retry-After") for answer in answers if answer.status_code == 429} == {"7"}
    boards.calm()
    assert requests.options(f"{boards.org_url}/_apis", auth=("", boards.pat), timeout=5).status_code == 200
