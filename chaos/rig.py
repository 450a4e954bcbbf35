"""What every chaos suite runs against: the devhost's configuration, settings and storage endpoints."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from bench.notification_latency import ONCALL
from devhost.azurite import ROOT, Azurite

FUNCTION_KEY = "chaos-key"


def config_dir(folder: Path) -> Path:
    """The example configuration, with one responder always on call for each roster: every page has someone to go
    to, so an unpaged incident is Firebell's fault, never a gap in the rota."""
    for name in ("services.toml", "people.toml", "escalations.toml"):
        shutil.copy(ROOT / "config" / name, folder / name)
    (folder / "oncall.toml").write_text(ONCALL, encoding="utf-8")
    return folder


def environment(config: Path, workflow_url: str) -> dict[str, str]:
    return {
        "FIREBELL_FUNCTION_KEY": FUNCTION_KEY,
        "FIREBELL_CONFIG_DIR": str(config),
        "TEAMS_WORKFLOW_URL": workflow_url,
        "STATUS_PAGE_URL": "http://127.0.0.1/status/",
    }


def endpoint(connection_string: str, service: str) -> str:
    """The `<Service>Endpoint` of a connection string (service: Blob, Queue or Table)."""
    return connection_string.split(f"{service}Endpoint=")[1].split(";")[0]


def through(connection_string: str, service: str, proxy_base: str) -> str:
    """The same account with one service reached through a proxy at `proxy_base` (same path, so signatures hold)."""
    upstream = endpoint(connection_string, service)
    account = upstream.rsplit("/", 1)[1]
    return connection_string.replace(f"{service}Endpoint={upstream}", f"{service}Endpoint={proxy_base}/{account}")


@contextlib.contextmanager
def storage(given: Azurite | None) -> Iterator[Azurite]:
    """`given` (a test's, already running), or an in-memory Azurite of the run's own."""
    if given is not None:
        yield given
        return
    own = Azurite().start()
    try:
        yield own
    finally:
        own.stop(grace=3)  # in memory: nothing to flush
