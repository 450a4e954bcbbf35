"""Cold import time: what every function instance pays on a cold start, before any request."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.figures import median, report
from devhost.azurite import ROOT

RUNS = 10


def import_seconds(statement: str) -> float:
    """Wall time of a fresh interpreter that only runs `statement`, minus an empty interpreter's time."""

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        return time.perf_counter() - started

    return median([run(statement) for _ in range(RUNS)]) - median([run("pass") for _ in range(RUNS)])


def main() -> None:
    bare = import_seconds("import azure.functions")
    app = import_seconds("import function_app")
    report(
        f"Cold import (median of {RUNS} fresh interpreters, interpreter start subtracted)",
        [
            ("import azure.functions", f"{bare * 1000:.0f} ms"),
            ("import function_app", f"{app * 1000:.0f} ms"),
            ("Firebell's own share", f"{(app - bare) * 1000:.0f} ms"),
        ],
    )


if __name__ == "__main__":
    main()
