"""Settings from the environment (Azure app settings, or local.settings.json under the devhost)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The documented limit of an Azure Monitor alert; also the ceiling for every JSON body we accept.
MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class Settings:
    storage_connection: str
    config_dir: Path
    status_page_title: str
    status_page_url: str

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            storage_connection=env.get("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
            config_dir=Path(env.get("FIREBELL_CONFIG_DIR") or "config"),
            status_page_title=env.get("STATUS_PAGE_TITLE") or "Service status",
            status_page_url=env.get("STATUS_PAGE_URL") or "",
        )
