"""Work that runs alongside the rest of an invocation and is finished before the invocation is: independent storage
round trips at once instead of one after the other, with no failure lost. Work that must not compete with the
invocation's own first steps can be held back until the block says go, or for a bound at most."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("firebell.alongside")


class Alongside:
    """The work's thread; `go()` lets held-back work start, `finish()` waits for it and raises its failure (once)."""

    def __init__(self, work: Callable[[], object], held_for: float = 0.0) -> None:
        self._work = work
        self._held_for = held_for
        self._go = threading.Event()
        self._failures: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="alongside", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self._held_for > 0:
            self._go.wait(self._held_for)
        try:
            self._work()
        except BaseException as failure:  # handed to the invoking thread, which raises it
            self._failures.append(failure)

    def go(self) -> None:
        self._go.set()

    def finish(self) -> None:
        self.go()
        self._thread.join()
        if self._failures:
            raise self._failures.pop()


@contextmanager
def alongside(work: Callable[[], object], *, held_for: float = 0.0) -> Iterator[Alongside]:
    """Run `work` on its own thread while the block runs; leave the block only when it is done. Its failure is
    raised when the block succeeded; the block's own failure wins, and the work's is logged. The block may call
    `finish()` itself where it must not go on before the work is done. `held_for`: the work starts only once the
    block calls `go()` (or finishes it), or that many seconds on, whichever is first."""
    running = Alongside(work, held_for)
    try:
        yield running
    except BaseException:
        try:
            running.finish()
        except BaseException as lost:
            log.error("work alongside failed too (%s: %s)", type(lost).__name__, lost)
        raise
    running.finish()
