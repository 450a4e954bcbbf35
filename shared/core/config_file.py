"""Reading Firebell's TOML configuration: one way to load a file and to refuse unknown keys, so every file
reports its problems alike — file, key and what is wrong."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from shared.core.errors import ConfigurationError
from shared.core.text import describe, first_unsafe


def read_toml(path: Path) -> dict[str, Any] | None:
    """The file's document; None when the file does not exist (the caller decides whether it is optional)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as problem:
        raise ConfigurationError(f"{path}: not valid TOML: {problem}") from None
    except (OSError, UnicodeDecodeError) as problem:
        raise ConfigurationError(f"{path}: cannot be read: {problem}") from None
    _no_unsafe_text(document, path, "")
    return document


def _no_unsafe_text(value: Any, path: Path, key: str) -> None:
    """TOML allows non-characters and C1 controls (as escapes, or literally): they would reach the public site and
    its feeds as component names and wording. Refused at start-up like any other bad setting (shared.core.text)."""
    if isinstance(value, str):
        unsafe = first_unsafe(value)
        if unsafe is not None:
            raise ConfigurationError(f"{path}: {key or 'a key'}: contains {describe(unsafe)}")
    elif isinstance(value, dict):
        for name, item in value.items():
            _no_unsafe_text(name, path, key)
            _no_unsafe_text(item, path, f"{key}.{name}" if key else name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_unsafe_text(item, path, f"{key}[{index}]")


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
