"""The common first step of every JSON entry point: a bounded body that is one JSON object, or a clear refusal."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shared.core.errors import InvalidInput, PayloadTooLarge
from shared.core.settings import MAX_BODY_BYTES
from shared.core.text import checked


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
    """A trimmed, non-empty string field of at most `limit` characters; "" when optional and absent.

    API callers read a 400's detail and can fix their client, so text the text policy forbids is refused, naming
    the field (shared.core.text explains the policy)."""
    value = document.get(name)
    if value is None and not required:
        return ""
    text = checked(value, name).strip() if isinstance(value, str) else ""
    if not text:  # bidi controls alone are no words either
        what = "missing" if value is None else repr(value)[:40]
        raise InvalidInput(f"{name} must be a non-empty string, got {what}")
    if len(value) > limit:
        raise InvalidInput(f"{name} is {len(value)} characters; the limit is {limit}")
    return text
