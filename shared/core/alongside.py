"""Work that runs alongside the rest of an invocation and is finished before the invocation is: independent storage
round trips at once instead of one after the other, with no failure lost."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("firebell.alongside")


class Alongside:
    """The work's thread; `finish()` waits for it and raises its failure (once)."""

    def __init__(self, work: Callable[[], object]) -> None:
        self._work = work
        self._failures: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="alongside", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as failure:  # handed to the invoking thread, which raises it
            self._failures.append(failure)

    def finish(self) -> None:
        self._thread.join()
        if self._failures:
            raise self._failures.pop()


@contextmanager
def alongside(work: Callable[[], object]) -> Iterator[Alongside]:
    """Run `work` on its own thread while the block runs; leave the block only when it is done. Its failure is
    raised when the block succeeded; the block's own failure wins, and the work's is logged. The block may call
    `finish()` itself where it must not go on before the work is done."""
    running = Alongside(work)
    try:
        yield running
    except BaseException:
        try:
            running.finish()
        except BaseException as lost:
            log.error("work alongside failed too (%s: %s)", type(lost).__name__, lost)
        raise
    running.finish()
