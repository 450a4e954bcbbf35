"""`python -m chaos [suite ...]` (`make chaos`): run the chaos suites (all by default), print their figures, and exit
non-zero when an invariant did not hold."""

from __future__ import annotations

import argparse
import importlib
import sys

from bench.cpu import cores
from bench.figures import report
from chaos import SIZES, SUITES, Figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("suites", nargs="*", metavar="suite", help=f"one of {', '.join(SUITES)} (default: all)")
    parser.add_argument("--size", choices=SIZES, default="full", help="fast: the small version make test runs")
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.suites if name not in SUITES]
    if unknown:
        parser.error(f"no suite named {', '.join(unknown)} (suites: {', '.join(SUITES)})")
    print(f"Firebell chaos suites ({arguments.size}; {cores()} cores; Azurite in memory)", flush=True)
    broken: list[str] = []
    for name in arguments.suites or list(SUITES):
        figures: Figures = importlib.import_module(SUITES[name]).run(arguments.size)
        verdict = "all held" if not figures.broken else "BROKEN: " + "; ".join(figures.broken)
        report(figures.title, [*figures.rows, ("invariants", verdict)])
        sys.stdout.flush()
        broken += [f"{name}: {problem}" for problem in figures.broken]
    if broken:
        print(f"\n{len(broken)} invariant(s) broken:\n  " + "\n  ".join(broken), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
