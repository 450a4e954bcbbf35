"""Which background process runs which queue and timer functions.

Flex Consumption scales each queue-triggered and timer function on instances of its own (README, "Instances"), so
the paging path never shares an interpreter lock or worker threads with the status page's renders. The devhost
stands for that coarsely: the functions named here get a background process of their own (per instance), and
every other queue and timer function shares one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from devhost.catalog import FunctionSpec

BACKGROUND_TRIGGERS = ("queueTrigger", "timerTrigger")
# The paging path: the first page (notifications), the steps after it (escalations), SMS and calls (contacts) and
# the sweeper that starts what a lost announcement missed. A storm's ~800 status-page changes must not make it wait
# for a worker thread or the interpreter lock, so by default it has a process of its own.
PAGING_PATH = frozenset({"notifications", "escalations", "contacts", "sweeper"})
OWN_PROCESS = (",".join(sorted(PAGING_PATH)),)  # each entry one process: its functions, comma-separated
# Where Azure gives each group instances of its own, here they share the machine's cores: the process of all the
# rest (the status page, Boards, channels, readiness, reviews) yields the CPU (its nice value) so that a storm's
# renders never take it from the paging path. Measured: README, Chaos.
YIELDING = 10


@dataclass(frozen=True)
class Group:
    """One background process: `only` the functions named, or every background function not in `besides`."""

    name: str  # its name in the log, e.g. background-1, paging-1
    only: frozenset[str] | None = None
    besides: frozenset[str] = frozenset()

    @property
    def niceness(self) -> int:
        """How much this process yields the CPU: the rest's, when some functions have processes of their own."""
        return YIELDING if self.only is None and self.besides else 0

    def runs(self, function: str) -> bool:
        return function in self.only if self.only is not None else function not in self.besides

    def arguments(self) -> list[str]:
        """How a background process is told its group (`python -m devhost --background-only …`)."""
        if self.only is not None:
            return ["--functions", ",".join(sorted(self.only))]
        return ["--except", ",".join(sorted(self.besides))] if self.besides else []


def groups(own: Sequence[str], instances: int) -> list[Group]:
    """The background processes for `instances` host instances: per instance, one for each entry of `own` (its
    functions, comma-separated) and one for all the others."""
    sets = [parse_names(entry) for entry in own]
    shared = frozenset().union(*sets)
    return [
        group
        for n in range(1, instances + 1)
        for group in (
            Group(f"background-{n}", besides=shared),
            *(Group(f"{_name(functions)}-{n}", only=functions) for functions in sets),
        )
    ]


def _name(functions: frozenset[str]) -> str:
    return "paging" if functions == PAGING_PATH else "+".join(sorted(functions))


def unknown(own: Iterable[str], specs: Sequence[FunctionSpec]) -> list[str]:
    """The names in `own` (entries of comma-separated names) that are not queue or timer functions of the app (HTTP
    functions run in the HTTP processes)."""
    background = {spec.name for spec in specs if spec.trigger_type in BACKGROUND_TRIGGERS}
    return [name for entry in own for name in sorted(parse_names(entry)) if name not in background]


def parse_names(value: str) -> frozenset[str]:
    """`--functions a,b` / `--except a,b` → {"a", "b"}."""
    return frozenset(name.strip() for name in value.split(",") if name.strip())
