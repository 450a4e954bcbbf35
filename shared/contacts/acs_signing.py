"""Signing a request to Azure Communication Services with the resource's access key (HMAC-SHA256). Pure.

The documented scheme ("Sign an HTTP request", Communication Services): the body's SHA-256 goes in
`x-ms-content-sha256` (base64), the time in `x-ms-date` (RFC 1123), and
`Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<base64 HMAC>` over
"VERB\\npath?query\\ndate;host;content-hash", keyed with the base64-decoded access key. The service refuses a date
more than 15 minutes off, so a replayed request soon stops working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def string_to_sign(method: str, url: str, date: str, content: str) -> str:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"{method.upper()}\n{path}\n{date};{parts.netloc};{content}"


def signed_headers(method: str, url: str, body: bytes, access_key: str, now: datetime) -> dict[str, str]:
    """The headers that authenticate one request; ValueError when the key is not base64."""
    key = base64.b64decode(access_key, validate=True)
    date = format_datetime(now, usegmt=True)
    content = content_hash(body)
    mac = hmac.new(key, string_to_sign(method, url, date, content).encode(), hashlib.sha256)
    signature = base64.b64encode(mac.digest()).decode()
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": content,
        "Authorization": f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature={signature}",
    }


def verify(method: str, url: str, body: bytes, headers: dict[str, str], access_key: str) -> bool:
    """Whether a request carries a good signature (the stand-in's side of the protocol)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    date, content = lowered.get("x-ms-date", ""), lowered.get("x-ms-content-sha256", "")
    if content != content_hash(body):
        return False
    key = base64.b64decode(access_key)
    mac = hmac.new(key, string_to_sign(method, url, date, content).encode(), hashlib.sha256)
    expected = f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature={base64.b64encode(mac.digest()).decode()}"
    return hmac.compare_digest(lowered.get("authorization", ""), expected)
