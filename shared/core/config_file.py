"""Reading Firebell's TOML configuration: one way to load a file and to refuse unknown keys, so every file
reports its problems alike — file, key and what is wrong."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from shared.core.errors import ConfigurationError


def read_toml(path: Path) -> dict[str, Any] | None:
    """The file's document; None when the file does not exist (the caller decides whether it is optional)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as problem:
        raise ConfigurationError(f"{path}: not valid TOML: {problem}") from None
    except (OSError, UnicodeDecodeError) as problem:
        raise ConfigurationError(f"{path}: cannot be read: {problem}") from None


def known_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    """A typo must never fall back to a default silently: unknown keys are errors."""
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigurationError(f"{where}.{unknown[0]}: unknown key; expected one of {', '.join(sorted(allowed))}")


def config_text(table: dict[str, Any], key: str, where: str, *, fallback: str | None = None) -> str:
    """A trimmed, non-empty string setting."""
    value = table.get(key, fallback)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}.{key}: must be a non-empty string, got {value!r}")
    return value.strip()
