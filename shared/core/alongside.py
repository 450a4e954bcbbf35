"""Work that runs alongside the rest of an invocation and is finished before the invocation is: independent storage
round trips at once instead of one after the other, with no failure lost."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def alongside(work: Callable[[], object]) -> Iterator[None]:
    """Run `work` on its own thread while the block runs; leave the block only when it is done. Its failure is
    raised when the block succeeded (the block's own failure wins: the delivery fails either way)."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as failure:  # handed to the invoking thread, which raises it
            failures.append(failure)

    thread = threading.Thread(target=run, name="alongside", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()
    if failures:
        raise failures[0]
