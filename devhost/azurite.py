"""Start and stop Azurite (from the project's node_modules) for `make run` and for the test suite."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from shared.core.storage import development_storage

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORTS = (10000, 10001, 10002)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def azurite_binary() -> str:
    local = ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if found:
        return found
    raise RuntimeError("Azurite is not installed: run `npm ci` in the project folder (make run and make test do)")


class Azurite:
    """One Azurite process. `location=None` keeps everything in memory (tests); ports default to free ones.

    With `tls=(certificate PEM, key PEM)` it serves HTTPS, and `oauth=True` (`--oauth basic`, which needs HTTPS)
    also accepts Entra ID bearer tokens: it checks their shape, lifetime, issuer and audience, not their signature,
    so the identity-based storage path runs locally (tests/integration/test_storage_identity.py)."""

    def __init__(
        self,
        location: Path | None = None,
        ports: tuple[int, int, int] | None = None,
        *,
        tls: tuple[Path, Path] | None = None,
        oauth: bool = False,
    ) -> None:
        if oauth and tls is None:
            raise ValueError("Azurite accepts bearer tokens over HTTPS only: give a certificate and key (tls=…)")
        self.location = location
        self.ports = ports or (free_port(), free_port(), free_port())
        self.tls = tls
        self.oauth = oauth
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        blob, queue, table = self.ports
        if self.tls is None:
            return development_storage(blob=blob, queue=queue, table=table)
        plain = development_storage(blob=blob, queue=queue, table=table)
        return plain.replace("Protocol=http;", "Protocol=https;").replace("http://", "https://")

    def service_uri(self, service: str) -> str:
        """The path-style URI of one service (blob, queue, table) of the development account."""
        port = dict(zip(("blob", "queue", "table"), self.ports, strict=True))[service]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}/devstoreaccount1"

    def start(self, timeout: float = 30.0) -> Azurite:
        blob, queue, table = self.ports
        command = [
            azurite_binary(),
            "--silent",
            "--skipApiVersionCheck",
            "--blobHost",
            "127.0.0.1",
            "--queueHost",
            "127.0.0.1",
            "--tableHost",
            "127.0.0.1",
            "--blobPort",
            str(blob),
            "--queuePort",
            str(queue),
            "--tablePort",
            str(table),
        ]
        if self.tls is not None:
            command += ["--cert", str(self.tls[0]), "--key", str(self.tls[1])]
        if self.oauth:
            command += ["--oauth", "basic"]
        if self.location is None:
            command.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            command += ["--location", str(self.location)]
        # Its own process group, so stopping it also stops anything npm's wrapper started.
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while not all(port_open(port) for port in self.ports):
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"Azurite exited with status {self.process.returncode}: {error.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Azurite did not listen on ports {self.ports} within {timeout:.0f} s")
            time.sleep(0.1)
        return self

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM lets a persistent Azurite flush its data; after `grace` seconds it is killed."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
