"""Opaque public ids: what the status page calls an incident instead of its internal, sequential `INC-n`.

A keyed hash (HMAC-SHA256) of the incident id under a secret (STATUS_PAGE_ID_KEY): stable across renders,
instances and deployments without storing anything, and without the key nobody can tell which `INC-n` a public id
stands for, nor how many incidents there were.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

PUBLIC_ID_LENGTH = 12  # base32 characters: 60 bits, the length of Atlassian Statuspage's own ids


@functools.lru_cache(maxsize=50_000)
def public_id(incident_id: str, key: bytes) -> str:
    digest = hmac.new(key, incident_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:PUBLIC_ID_LENGTH].lower()
