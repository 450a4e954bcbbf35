"""`python -m devhost`: run Firebell locally. With --azurite DIR it also starts Azurite with its data in DIR."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from devhost.azurite import DEFAULT_PORTS, ROOT, Azurite, port_open
from devhost.settings import load_local_settings

READY_FILE = "DEVHOST_BACKGROUND_READY"  # the second process touches this file once its listeners run
SAMPLE_ALERT = "samples/azure-monitor/59_test_action_metric_static_threshold.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--settings", type=Path, default=ROOT / "local.settings.json")
    parser.add_argument("--azurite", type=Path, metavar="DIR", help="start Azurite with its data in DIR")
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="run queue listeners and timers in this process too (default: a second process runs them)",
    )
    parser.add_argument("--background-only", action="store_true", help=argparse.SUPPRESS)  # the second process
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # One line per invocation comes from the devhost itself; the SDKs' and werkzeug's request logs are noise.
    for noisy in ("azure", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    load_local_settings(arguments.settings)

    azurite = None
    if arguments.azurite and not port_open(DEFAULT_PORTS[0]):
        print(f"Starting Azurite (data in {arguments.azurite}/)…", flush=True)
        azurite = Azurite(location=arguments.azurite, ports=DEFAULT_PORTS).start()
    elif arguments.azurite:
        print("Azurite is already listening on 127.0.0.1:10000; using it.", flush=True)
    try:
        if arguments.background_only:
            return run_background()
        return serve(arguments.host, arguments.port, arguments.settings, one_process=arguments.one_process)
    finally:
        if azurite:
            azurite.stop()
            print("Azurite stopped.", flush=True)


def serve(address: str, port: int, settings: Path, *, one_process: bool) -> int:
    sys.path.insert(0, str(ROOT))
    from devhost.host import DevHost, StorageNotSet, StorageUnreachable
    from function_app import app

    background = None
    if not one_process:
        # The queue consumers and timers get an interpreter of their own (same environment, same settings); HTTP
        # answers only once they run, so nothing is accepted that no consumer would pick up.
        background = _start_background(settings)
        if background is None:
            return 2
    try:
        host = DevHost(app, ROOT / "host.json", address, port, run_background=one_process).start()
    except (StorageUnreachable, StorageNotSet, OSError) as error:
        unreachable = isinstance(error, StorageUnreachable | StorageNotSet)
        print(
            f"devhost: {error if unreachable else f'cannot listen on {address}:{port}: {error.strerror}'}",
            file=sys.stderr,
        )
        if background is not None:
            background.terminate()
        return 2
    key = os.environ.get("FIREBELL_FUNCTION_KEY", "")
    print(
        f"\nFirebell is running on {host.url}\n"
        f"  Status page:  {host.url}/status/\n"
        f"  Health:       {host.url}/api/health\n"
        f"  Send an alert:\n"
        f"    curl -s -X POST '{host.url}/api/alerts?code={key}' -H 'Content-Type: application/json' \\\n"
        f"         --data-binary @{SAMPLE_ALERT}\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    status = _until_stopped(background)
    print("Stopping…", flush=True)
    if background is not None and background.poll() is None:
        background.send_signal(signal.SIGINT)
        try:
            background.wait(timeout=15)
        except subprocess.TimeoutExpired:
            background.kill()
    host.stop()
    return status


def _start_background(settings: Path) -> subprocess.Popen[bytes] | None:
    """The second process, once its listeners run; None (and why, from its own message) when it could not start."""
    with tempfile.TemporaryDirectory() as folder:
        ready = Path(folder) / "ready"
        command = [sys.executable, "-m", "devhost", "--background-only", "--settings", str(settings)]
        background = subprocess.Popen(command, cwd=ROOT, env={**os.environ, READY_FILE: str(ready)})
        while not ready.exists():
            if background.poll() is not None:
                return None  # it said why (storage unreachable, …) on the shared stderr
            time.sleep(0.05)
    return background


def run_background() -> int:
    """The second process: queue listeners and timers, no HTTP."""
    sys.path.insert(0, str(ROOT))
    from devhost.host import DevHost, StorageNotSet, StorageUnreachable
    from function_app import app

    try:
        host = DevHost(app, ROOT / "host.json", serve_http=False).start()
    except (StorageUnreachable, StorageNotSet) as error:
        print(f"devhost: {error}", file=sys.stderr)
        return 2
    if os.environ.get(READY_FILE):
        Path(os.environ[READY_FILE]).touch()
    _until_stopped(None)
    host.stop()
    return 0


def _until_stopped(background: subprocess.Popen[bytes] | None) -> int:
    """Wait for Ctrl-C or SIGTERM; 2 when the background process died first (nothing would consume the queues)."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        if background is not None and background.poll() is not None:
            print(f"devhost: the background process exited ({background.returncode})", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
