"""The common first step of every JSON entry point: a bounded body that is one JSON object, or a clear refusal."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from shared.core.errors import InvalidInput, PayloadTooLarge
from shared.core.settings import MAX_BODY_BYTES

_UNSAFE = ("Cc", "Cs")  # control characters, surrogates


def require_bounded(body: bytes) -> None:
    """Refuse bodies over the 256 KB limit before any work is done on them (signature checks included)."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes (256 KB)")


def decode_json_object(body: bytes) -> dict[str, Any]:
    """Size, UTF-8, JSON, object — each refused with a detail that says which."""
    require_bounded(body)
    if not body.strip():
        raise InvalidInput("body is empty; expected a JSON object", code="invalid_json")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as problem:  # ValueError: bad JSON, huge integers
        raise InvalidInput(f"body is not valid JSON: {problem}", code="invalid_json") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"body must be a JSON object, not {type(document).__name__}", code="invalid_json")
    return document


def text_field(document: Mapping[str, Any], name: str, limit: int, *, required: bool = True) -> str:
    """A trimmed, non-empty string field of at most `limit` characters; "" when optional and absent."""
    value = document.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        what = "missing" if value is None else repr(value)[:40]
        raise InvalidInput(f"{name} must be a non-empty string, got {what}")
    if len(value) > limit:
        raise InvalidInput(f"{name} is {len(value)} characters; the limit is {limit}")
    unsafe = next((c for c in value if unicodedata.category(c) in _UNSAFE and c not in "\n\t"), None)
    if unsafe is not None:
        # Control characters and lone surrogates cannot be encoded, or be put in XML feeds: refuse them up front.
        raise InvalidInput(f"{name} contains the control character U+{ord(unsafe):04X}")
    return value.strip()
