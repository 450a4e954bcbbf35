"""The request window every Workflows budget applies (shared.teams.workflow.wait_to_start): in one process or shared
by all instances, the same rule decides when the next request may start."""

from __future__ import annotations

import pytest

from shared.teams.workflow import wait_to_start


@pytest.mark.parametrize(
    ("starts", "held_until", "now", "wait"),
    [
        ([], 0.0, 100.0, 0.0),  # nothing sent: go
        ([99.0, 99.5, 99.9], 0.0, 100.0, 0.0),  # three in the window: a fourth may start
        ([99.0, 99.5, 99.9, 100.0], 0.0, 100.0, 0.05),  # four: wait until the oldest leaves (99.0 + 1.05)
        ([98.0, 99.5, 99.9, 100.0], 0.0, 100.0, 0.0),  # the oldest already left the window
        ([99.0, 99.2, 99.5, 99.9, 100.0], 0.0, 100.0, 0.25),  # five recorded: the 2nd oldest of the last four counts
        ([], 102.5, 100.0, 2.5),  # a 429's pause first, however empty the window
        ([99.5, 99.6, 99.7, 99.8], 100.2, 100.0, 0.2),  # the pause first; the window is asked again after it
    ],
)
def test_the_next_request_waits_for_a_429_pause_and_for_a_place_in_the_window(starts, held_until, now, wait):
    assert wait_to_start(starts, held_until, now, 4, 1.05) == pytest.approx(wait)
