"""`make chaos`: suites that deliver alerts the way Azure does on a bad day — out of order, twice, late, with queue
messages lost, with the host killed mid-storm — through the real devhost, and check that every incident still pages.

A suite is a module with `run(size) -> Figures`, `size` being "full" (`make chaos`) or "fast" (the same code, small,
in `make test`); SUITES names them, so adding a suite is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SUITES = {
    "delivery": "chaos.delivery",
    "kill": "chaos.kill",
    "outages": "chaos.outages",
}
SIZES = ("full", "fast")


@dataclass(frozen=True)
class Figures:
    title: str
    rows: list[tuple[str, str]]
    broken: list[str] = field(default_factory=list)  # the invariants that did not hold, in words
