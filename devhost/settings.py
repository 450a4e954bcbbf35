"""local.settings.json → environment, as Core Tools does (real environment variables win)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def load_local_settings(path: Path) -> int:
    """Copy the `Values` of local.settings.json into os.environ without overriding; returns how many were set."""
    if not path.is_file():  # absent, or /dev/null: the environment alone configures the host
        return 0
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    applied = 0
    for name, value in values.items():
        if name not in os.environ:
            os.environ[name] = str(value)
            applied += 1
    return applied
