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
# The first page's path: incident opened → notifications → card. A storm's ~800 status-page changes must not make
# it wait for a worker thread or the interpreter lock.
OWN_PROCESS = ("notifications",)
# Where Azure gives each group instances of its own, here they share the machine's cores: the process of all the
# rest yields the CPU (its nice value) so that a storm's status-page renders and Boards work never take it from the
# first page. Measured: README, Chaos.
YIELDING = 10


@dataclass(frozen=True)
class Group:
    """One background process: `only` the functions named, or every background function not in `besides`."""

    name: str  # its name in the log, e.g. background-1, notifications-1
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
    """The background processes for `instances` host instances: per instance, one for each function in `own` and
    one for all the others."""
    shared = frozenset(own)
    return [
        group
        for n in range(1, instances + 1)
        for group in (
            Group(f"background-{n}", besides=shared),
            *(Group(f"{function}-{n}", only=frozenset({function})) for function in own),
        )
    ]


def unknown(own: Iterable[str], specs: Sequence[FunctionSpec]) -> list[str]:
    """The names in `own` that are not queue or timer functions of the app (HTTP functions run in the HTTP
    processes)."""
    background = {spec.name for spec in specs if spec.trigger_type in BACKGROUND_TRIGGERS}
    return [name for name in own if name not in background]


def parse_names(value: str) -> frozenset[str]:
    """`--functions a,b` / `--except a,b` → {"a", "b"}."""
    return frozenset(name.strip() for name in value.split(",") if name.strip())
