"""one_per_key: what a process must hold once per key is built once, however many threads ask for it first."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from shared.core.once import one_per_key


def test_threads_asking_at_the_same_moment_get_one_object_built_once():
    builds: list[str] = []
    start = threading.Barrier(8)

    @one_per_key
    def publisher_for(account: str) -> object:
        builds.append(account)
        time.sleep(0.05)  # long enough for every other first caller to arrive meanwhile
        return object()

    def first_call(_: int) -> object:
        start.wait()
        return publisher_for("devstoreaccount1")

    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(first_call, range(8)))
    assert builds == ["devstoreaccount1"]
    assert len({id(publisher) for publisher in got}) == 1


def test_each_key_gets_its_own_and_cache_clear_forgets_them():
    @one_per_key
    def store_for(account: str) -> list[str]:
        return [account]

    first, other = store_for("a"), store_for("b")
    assert (first, other, store_for("a") is first) == (["a"], ["b"], True)
    store_for.cache_clear()
    assert store_for("a") is not first
