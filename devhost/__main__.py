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
from devhost.grouping import OWN_PROCESS, Group, groups, parse_names, unknown
from devhost.settings import load_local_settings

READY_FILE = "DEVHOST_READY"  # a child process touches this file once it serves (or its listeners run)
INSTANCE = "DEVHOST_INSTANCE"  # a child's name in the log: http-2, background-1, …
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
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        metavar="N",
        help="run N HTTP processes (sharing the port) and N background processes, as Azure runs several instances",
    )
    parser.add_argument(
        "--own-process",
        action="append",
        metavar="FUNCTION[,FUNCTION…]",
        help="give these queue or timer functions (comma-separated) a background process of their own, as Azure "
        f"scales each on its own instances (repeatable; default, the paging path: {', '.join(OWN_PROCESS)})",
    )
    parser.add_argument(
        "--one-background",
        action="store_true",
        help="run every queue and timer function in one background process per instance (no --own-process)",
    )
    parser.add_argument("--background-only", action="store_true", help=argparse.SUPPRESS)  # a background process
    parser.add_argument("--functions", type=parse_names, help=argparse.SUPPRESS)  # … running only these
    parser.add_argument("--except", dest="besides", type=parse_names, help=argparse.SUPPRESS)  # … all but these
    parser.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)  # a further HTTP process: the shared socket
    arguments = parser.parse_args(argv)
    if arguments.instances < 1:
        parser.error("--instances must be 1 or more")
    if arguments.one_background and arguments.own_process:
        parser.error("--one-background and --own-process contradict each other")
    own = [] if arguments.one_background else list(dict.fromkeys(arguments.own_process or OWN_PROCESS))
    # Each process names itself in the log, so a reader (or a test) sees which instance ran what.
    instance = os.environ.get(INSTANCE, "http-1")
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(name)s[{instance}] %(levelname)s %(message)s")
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
            group = Group(instance, arguments.functions, arguments.besides or frozenset())
            os.nice(group.niceness)
            return run_background(group)
        if arguments.listen_fd is not None:
            return run_http(arguments.host, arguments.port, arguments.listen_fd, one_process=arguments.one_process)
        return serve(
            arguments.host,
            arguments.port,
            arguments.settings,
            one_process=arguments.one_process,
            instances=arguments.instances,
            own=own,
        )
    finally:
        if azurite:
            azurite.stop()
            print("Azurite stopped.", flush=True)


def serve(
    address: str, port: int, settings: Path, *, one_process: bool, instances: int = 1, own: list[str] | None = None
) -> int:
    sys.path.insert(0, str(ROOT))
    from devhost.catalog import discover
    from devhost.host import DevHost, StorageNotSet, StorageUnreachable
    from function_app import app

    strangers = unknown(own or [], discover(app))
    if strangers:
        print(f"devhost: --own-process: no queue or timer function named {', '.join(strangers)}", file=sys.stderr)
        return 2
    children: list[subprocess.Popen[bytes]] = []
    backgrounds: list[tuple[list[str], str]] = []
    if not one_process:
        # The queue consumers and timers get interpreters of their own (same environment, same settings), each a host
        # instance polling the queues and taking its turn at the timers — the functions named in `own` in processes
        # of their own (devhost.grouping); HTTP answers only once they run, so nothing is accepted that no consumer
        # would pick up.
        backgrounds = [
            (["--background-only", "--settings", str(settings), *group.arguments()], group.name)
            for group in groups(own or [], instances)
        ]
        started = _start_children(backgrounds)
        if started is None:
            return 2
        children += started
    try:
        host = DevHost(app, ROOT / "host.json", address, port, run_background=one_process)
    except (StorageUnreachable, StorageNotSet, OSError) as error:
        unreachable = isinstance(error, StorageUnreachable | StorageNotSet)
        print(
            f"devhost: {error if unreachable else f'cannot listen on {address}:{port}: {error.strerror}'}",
            file=sys.stderr,
        )
        _stop(children)
        return 2
    if instances > 1:
        # Further HTTP processes accept connections from this one listening socket (inherited, as a pre-fork server
        # does): the kernel hands each connection to whichever process accepts first, as Azure's front end spreads
        # requests over instances. Non-blocking, so the processes that lose an accept race go back to waiting.
        assert host.server is not None
        host.server.socket.setblocking(False)
        listening = host.server.socket.fileno()
        http = ["--host", address, "--port", str(port), "--settings", str(settings), "--listen-fd", str(listening)]
        http += ["--one-process"] if one_process else []
        started = _start_children([(http, f"http-{n}") for n in range(2, instances + 1)], pass_fds=(listening,))
        if started is None:
            _stop(children)
            host.server.server_close()  # not serving yet: nothing else to stop
            return 2
        children += started
    # Serving only now: a client that connected meanwhile waits in the listening socket's backlog, so nothing is
    # answered until every instance asked for runs.
    host.start()
    names = [name for _, name in backgrounds]
    key = os.environ.get("FIREBELL_FUNCTION_KEY", "")
    print(
        f"\nFirebell is running on {host.url}"
        + f" (processes: {', '.join([*(f'http-{n}' for n in range(1, instances + 1)), *names])})"
        + f"\n  Status page:  {host.url}/status/\n"
        f"  Health:       {host.url}/api/health\n"
        f"  Send an alert:\n"
        f"    curl -s -X POST '{host.url}/api/alerts?code={key}' -H 'Content-Type: application/json' \\\n"
        f"         --data-binary @{SAMPLE_ALERT}\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    status = _until_stopped(children)
    print("Stopping…", flush=True)
    _stop(children)
    host.stop()
    return status


def _start_children(
    commands: list[tuple[list[str], str]], pass_fds: tuple[int, ...] = ()
) -> list[subprocess.Popen[bytes]] | None:
    """Further processes of this devhost (arguments, name), started together and returned once each runs; None
    (every one stopped, and why from its own message) when one could not start."""
    with tempfile.TemporaryDirectory() as folder:
        started = []
        for arguments, name in commands:
            ready = Path(folder) / name
            environment = {**os.environ, READY_FILE: str(ready), INSTANCE: name}
            command = [sys.executable, "-m", "devhost", *arguments]
            started.append((subprocess.Popen(command, cwd=ROOT, env=environment, pass_fds=pass_fds), ready))
        children = [child for child, _ in started]
        while not all(ready.exists() for _, ready in started):
            if any(child.poll() is not None for child in children):
                _stop(children)  # one said why (storage unreachable, …) on the shared stderr
                return None
            time.sleep(0.05)
    return children


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """Ctrl-C to every child at once, then wait for each (killed when it does not stop within 15 s)."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def run_http(address: str, port: int, listening: int, *, one_process: bool) -> int:
    """A further HTTP process (`--instances`): serves the first process's listening socket."""
    sys.path.insert(0, str(ROOT))
    from devhost.host import DevHost, StorageNotSet, StorageUnreachable
    from function_app import app

    try:
        host = DevHost(app, ROOT / "host.json", address, port, run_background=one_process, listen_fd=listening).start()
    except (StorageUnreachable, StorageNotSet) as error:
        print(f"devhost: {error}", file=sys.stderr)
        return 2
    _ready()
    _until_stopped([])
    host.stop()
    return 0


def _ready() -> None:
    if os.environ.get(READY_FILE):
        Path(os.environ[READY_FILE]).touch()


def run_background(group: Group) -> int:
    """A background process: the queue listeners and timers of its group, no HTTP."""
    sys.path.insert(0, str(ROOT))
    from devhost.host import DevHost, StorageNotSet, StorageUnreachable
    from function_app import app

    try:
        host = DevHost(app, ROOT / "host.json", serve_http=False, group=group).start()
    except (StorageUnreachable, StorageNotSet) as error:
        print(f"devhost: {error}", file=sys.stderr)
        return 2
    _ready()
    _until_stopped([])
    host.stop()
    return 0


def _until_stopped(children: list[subprocess.Popen[bytes]]) -> int:
    """Wait for Ctrl-C or SIGTERM; 2 when a child process died first (nothing would consume the queues, or the
    instances would no longer be what was asked for)."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        for child in children:
            if child.poll() is not None:
                print(f"devhost: a child process exited ({child.returncode})", file=sys.stderr)
                return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
