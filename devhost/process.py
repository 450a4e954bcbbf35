"""Run `python -m devhost` as a child process (end-to-end tests, benchmarks) and wait until it answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import requests

from devhost.azurite import ROOT, free_port
from shared.core.storage import STORAGE_SETTING


class DevhostProcess:
    def __init__(
        self,
        connection_string: str | None,
        environment: dict[str, str] | None = None,
        *,
        own_group: bool = False,
        instances: int = 1,
    ) -> None:
        """Storage is `connection_string`, or — when it is None — only what `environment` says (identity-based
        `AzureWebJobsStorage__*` settings, or nothing at all): storage settings of this process are not inherited.
        With `own_group` the devhost and its background process get a process group of their own, so `kill()`
        can end both at once. `instances`: N HTTP and N background processes (`--instances`)."""
        self.own_group = own_group
        self.instances = instances
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        inherited = {
            name: value
            for name, value in os.environ.items()
            if name != STORAGE_SETTING and not name.startswith(f"{STORAGE_SETTING}__")
        }
        storage = {STORAGE_SETTING: connection_string} if connection_string is not None else {}
        self.env = {**inherited, **storage, **(environment or {})}
        self.process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: a busy devhost logs more than a pipe buffer holds and would block on a full pipe.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 — lives as long as this object

    def start(self, timeout: float = 30.0) -> DevhostProcess:
        # --settings /dev/null: the environment given here is the whole configuration, not local.settings.json.
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "devhost", "--port", str(self.port), "--settings", os.devnull),
                *(("--instances", str(self.instances)) if self.instances > 1 else ()),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=self.own_group,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"devhost exited with status {self.process.returncode}:\n{self.stop()}")
            try:
                requests.get(f"{self.url}/api/health", timeout=2)
                return self
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or not answering yet
                time.sleep(0.1)
        raise RuntimeError(f"devhost did not answer within {timeout:.0f} s:\n{self.stop()}")

    def stop(self) -> str:
        """Ctrl-C, as a person would; returns everything the devhost printed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL to the whole process group — HTTP and background processes at once, as a crashed host dies:
        nothing is stopped cleanly, no message settled, no lease let go. `start()` runs it again on the same port."""
        if self.process is None or not self.own_group:
            raise RuntimeError("kill() needs a devhost started with own_group=True")
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _group_alive(self.process.pid):  # the background process may take a moment to go
                return
            time.sleep(0.05)
        raise RuntimeError(f"devhost process group {self.process.pid} still alive {timeout:.0f} s after SIGKILL")

    def __enter__(self) -> DevhostProcess:
        return self if self.process is not None else self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def _group_alive(group: int) -> bool:
    """Whether a process of the group still runs (a zombie waiting for its reaper does not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False
