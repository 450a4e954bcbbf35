"""CPU seconds used by a process and its descendants, and by the whole machine, read from /proc (Linux): where a
benchmark's time went, and whether the run had the machine to itself."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return text[text.rindex(")") + 2 :].split()


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    found = {root}
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of `root` and every live descendant (threads included), and of the children each of them
    has reaped: a process that ended still counts, with its parent."""
    total = 0
    for pid in _descendants(root):
        fields = _stat(pid)
        if fields is not None:
            # utime, stime, cutime, cstime: fields 14–17 of /proc/PID/stat
            total += sum(int(ticks) for ticks in fields[11:15])
    return total / _TICKS


def _machine_ticks() -> tuple[int, int, int]:
    """(processes, interrupts, stolen) ticks of the whole machine since boot (/proc/stat's first line): time the
    cores ran processes (user, nice, system), served interrupts (irq, softirq: much of it the run's own loopback
    traffic, charged to no process), and were taken by the hypervisor (steal)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(n) for n in Path("/proc/stat").read_text().split()[1:9]
    )
    return user + nice + system, irq + softirq, steal


def machine_cpu_seconds() -> float:
    """Busy CPU of the whole machine, every process (all but idle and iowait): tells a run that had the cores to
    itself from one that shared them."""
    return sum(_machine_ticks()) / _TICKS


def cores() -> int:
    """The cores this process may run on (an affinity or container limit included)."""
    return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class MachineShare:
    """How a run shared the machine over `seconds` of wall time: CPU seconds of its own process tree, of every other
    process, and of time the hypervisor gave the virtual cores to another machine (steal). A slow figure from a run
    that shared its cores, or from a slow spell of the host, says so beside it."""

    seconds: float
    own: float
    others: float
    stolen: float
    cores: int

    def describe(self) -> str:
        return (
            f"{self.own / self.seconds:.2f} of {self.cores} cores busy with the run, "
            f"{self.others / self.seconds:.2f} with other processes, "
            f"{self.stolen / (self.seconds * self.cores):.1%} stolen by the hypervisor ({self.seconds:.0f} s)"
        )


class MachineWatch:
    """Started now; `share()` tells how the run (this process and its descendants) shared the machine since."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._machine = _machine_ticks()
        self._own = tree_cpu_seconds(os.getpid())

    def share(self) -> MachineShare:
        processes, _interrupts, stolen = (now - then for now, then in zip(_machine_ticks(), self._machine, strict=True))
        own = tree_cpu_seconds(os.getpid()) - self._own
        return MachineShare(
            seconds=time.monotonic() - self._started,
            own=own,
            # A descendant that ended unreaped, or was reaped by another process, is missed: counted as others'.
            others=max(processes / _TICKS - own, 0.0),
            stolen=stolen / _TICKS,
            cores=cores(),
        )
