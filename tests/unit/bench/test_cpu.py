"""How a run shared the machine: its own process tree's CPU, other processes', and the hypervisor's steal."""

from __future__ import annotations

import subprocess
import sys

from bench import cpu
from bench.cpu import MachineShare, MachineWatch


def test_a_share_is_described_per_core_of_the_window():
    share = MachineShare(seconds=20.0, own=30.0, others=2.0, stolen=0.8, cores=2)
    assert share.describe() == (
        "1.50 of 2 cores busy with the run, 0.10 with other processes, 2.0% stolen by the hypervisor (20 s)"
    )


def test_others_are_the_processes_time_less_the_runs_and_neither_counts_interrupts_or_steal(monkeypatch):
    ticks = iter([(1_000, 50, 10), (1_800, 450, 30)])  # (processes, interrupts, stolen) at start, then at the end
    own = iter([5.0, 11.0])  # the run's own tree, in seconds
    clock = iter([100.0, 110.0])
    monkeypatch.setattr(cpu, "_machine_ticks", lambda: next(ticks))
    monkeypatch.setattr(cpu, "tree_cpu_seconds", lambda root: next(own))
    monkeypatch.setattr(cpu.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(cpu, "_TICKS", 100)
    share = MachineWatch().share()
    # 800 process ticks = 8 s, of them 6 s the run's; the 4 s of interrupts are nobody's; 0.2 s stolen.
    assert (share.seconds, share.own, share.others, share.stolen) == (10.0, 6.0, 2.0, 0.2)


def test_a_child_process_busy_in_the_window_counts_as_the_run():
    watch = MachineWatch()
    # A child that spins for 0.5 s of CPU, then waits to be read before it exits.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nstart = time.process_time()\nwhile time.process_time() - start < 0.5: pass\n"
            "print('spun', flush=True)\nsys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "spun\n"
        alive = watch.share()
    finally:
        child.communicate("")
    ended = watch.share()  # reaped now: its time is in this process's children's
    assert alive.own >= 0.4  # ticks of 10 ms: a margin below the 0.5 s it spun
    assert ended.own >= alive.own
