"""`python -m devhost`: run Firebell locally. With --azurite DIR it also starts Azurite with its data in DIR."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from devhost.azurite import DEFAULT_PORTS, ROOT, Azurite, port_open
from devhost.settings import load_local_settings

SAMPLE_ALERT = "samples/azure-monitor/59_test_action_metric_static_threshold.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--settings", type=Path, default=ROOT / "local.settings.json")
    parser.add_argument("--azurite", type=Path, metavar="DIR", help="start Azurite with its data in DIR")
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
        return serve(arguments.host, arguments.port)
    finally:
        if azurite:
            azurite.stop()
            print("Azurite stopped.", flush=True)


def serve(address: str, port: int) -> int:
    sys.path.insert(0, str(ROOT))
    from devhost.host import DevHost, StorageUnreachable
    from function_app import app

    try:
        host = DevHost(app, ROOT / "host.json", address, port).start()
    except StorageUnreachable as error:
        print(f"devhost: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"devhost: cannot listen on {address}:{port}: {error.strerror}", file=sys.stderr)
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
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    print("Stopping…", flush=True)
    host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
