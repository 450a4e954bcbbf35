"""Helpers for property tests that mutate real JSON documents: every position in a document, and replacing one."""

from __future__ import annotations

from typing import Any


def positions(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every position in a JSON document: each leaf and each container below the root."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found = [prefix] if prefix else []
    for key, child in children:
        found += positions(child, (*prefix, key))
    return found


def replace_at(document: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        document = document[key]
    document[path[-1]] = value
