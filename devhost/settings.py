"""local.settings.json → environment, as Core Tools does (real environment variables win)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from shared.core.storage import STORAGE_SETTING


def storage_named(environ: Mapping[str, str]) -> bool:
    """Whether these settings name storage in either form: the connection string or any identity-based part."""
    prefix = f"{STORAGE_SETTING}__".lower()
    return any(
        value.strip() and (name == STORAGE_SETTING or name.lower().startswith(prefix))
        for name, value in environ.items()
    )


def load_local_settings(path: Path) -> int:
    """Copy the `Values` of local.settings.json into os.environ without overriding; returns how many were set.

    Storage settings win as a whole: when the environment names storage in either form, none of the file's storage
    settings is applied (its connection string would otherwise win over the environment's identity-based ones)."""
    if not path.is_file():  # absent, or /dev/null: the environment alone configures the host
        return 0
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    keep_storage = storage_named(os.environ)
    applied = 0
    for name, value in values.items():
        if name in os.environ or (keep_storage and storage_named({name: "set"})):
            continue
        os.environ[name] = str(value)
        applied += 1
    return applied
