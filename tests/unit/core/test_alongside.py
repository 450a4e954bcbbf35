"""Work alongside an invocation: it runs at the same time, and the invocation does not end before it or lose its
failure."""

from __future__ import annotations

import threading
import time

import pytest

from shared.core.alongside import alongside


def test_the_work_runs_while_the_block_does_and_is_done_when_the_block_is_left():
    started, finished = threading.Event(), threading.Event()

    def work() -> None:
        started.set()
        finished.wait(5)

    with alongside(work):
        assert started.wait(5)  # one after the other, this would never be set before the block ends
        finished.set()
    assert finished.is_set()


def test_the_works_failure_is_raised_when_the_block_succeeded():
    def work() -> None:
        raise OSError("queue unavailable")

    with pytest.raises(OSError, match="queue unavailable"), alongside(work):
        pass


def test_the_blocks_own_failure_wins():
    def work() -> None:
        raise OSError("queue unavailable")

    with pytest.raises(ValueError, match="the block's"), alongside(work):
        raise ValueError("the block's")


def test_the_block_can_wait_for_the_work_where_it_must_not_go_on_without_it():
    def work() -> None:
        raise OSError("queue unavailable")

    made_a_copy = []
    with pytest.raises(OSError, match="queue unavailable"), alongside(work) as running:
        running.finish()  # e.g. before deferring a copy that will not do the work again
        made_a_copy.append(True)
    assert made_a_copy == []


def test_when_both_fail_the_blocks_failure_is_raised_and_the_works_is_logged(caplog):
    def work() -> None:
        raise OSError("queue unavailable")

    with pytest.raises(ValueError, match="the block's"), alongside(work):
        raise ValueError("the block's")
    assert [record.getMessage() for record in caplog.records] == [
        "work alongside failed too (OSError: queue unavailable)"
    ]


def test_held_back_work_starts_when_the_block_says_go():
    started = threading.Event()
    with alongside(started.set, held_for=30) as running:
        assert not started.wait(0.2)  # not before go(), though the bound is far off
        running.go()
        assert started.wait(5)


def test_held_back_work_starts_after_its_bound_when_nobody_says_go():
    started = threading.Event()
    with alongside(started.set, held_for=0.1):
        assert started.wait(5)  # the block never said go: the bound let it start


def test_held_back_work_goes_when_the_block_ends_without_saying_go():
    entered, started = time.monotonic(), []
    with alongside(lambda: started.append(time.monotonic()), held_for=60):
        pass  # e.g. a failure before the page: leaving the block lets the work go, not its bound
    assert started and started[0] - entered < 30  # not held for its minute
