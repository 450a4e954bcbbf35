"""How a run shared the machine: its own process tree's CPU, other processes', and the hypervisor's steal."""

from __future__ import annotations

import subprocess
import sys

from bench.cpu import MachineShare, MachineWatch


def test_a_share_is_described_per_core_of_the_window():
    share = MachineShare(seconds=20.0, own=30.0, others=2.0, stolen=0.8, cores=2)
    assert share.describe() == (
        "1.50 of 2 cores busy with the run, 0.10 with other processes, 2.0% stolen by the hypervisor (20 s)"
    )


def test_a_child_process_busy_in_the_window_counts_as_the_run_not_as_others():
    watch = MachineWatch()
    # A child that spins for 0.5 s of CPU, then waits to be read before it exits (only live processes are counted).
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
        share = watch.share()
    finally:
        child.communicate("")
    assert share.own >= 0.4  # ticks of 10 ms: a margin below the 0.5 s it spun
    assert share.cores >= 1 and share.seconds > 0
