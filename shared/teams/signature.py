"""Teams outgoing webhook: verify the HMAC that Teams signs each request with.

Teams sends `Authorization: HMAC <base64>`, where the value is base64(HMAC-SHA256(key = base64decode(security
token), message = the raw request body)). The security token is shown once when the outgoing webhook is created
and set as TEAMS_OUTGOING_WEBHOOK_TOKEN.

Pure: bytes and strings in, None or a typed error out. Error details never contain the token or a digest, so they
are safe to return and to log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from shared.core.errors import ConfigurationError, Unauthorized

TOKEN_SETTING = "TEAMS_OUTGOING_WEBHOOK_TOKEN"  # noqa: S105 (the name of a setting, not a secret)
SCHEME = "hmac"  # compared case-insensitively, as HTTP auth schemes are


def verify_signature(body: bytes, authorization: str | None, security_token: str) -> None:
    """Return when `authorization` is Teams' HMAC of exactly `body`; raise Unauthorized otherwise."""
    key = _key(security_token)
    received = _received_digest(authorization)
    expected = hmac.new(key, body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, received):
        raise Unauthorized(f"the HMAC signature does not match the request body (check {TOKEN_SETTING})")


def _key(security_token: str) -> bytes:
    # Checked before the request: without a key nothing can be authenticated, which is our problem, not the caller's.
    token = (security_token or "").strip()
    if not token:
        raise ConfigurationError(f"Teams outgoing webhook: {TOKEN_SETTING} is not set", code="not_configured")
    key = _strict_base64(token)
    if not key:
        raise ConfigurationError(f"Teams outgoing webhook: {TOKEN_SETTING} must be the base64 security token")
    return key


def _received_digest(authorization: str | None) -> bytes:
    scheme, _, value = (authorization or "").strip().partition(" ")
    if not scheme:
        raise Unauthorized("the Authorization header is missing; Teams sends 'HMAC <signature>'")
    if scheme.lower() != SCHEME:
        raise Unauthorized("the Authorization header must use the HMAC scheme: 'HMAC <signature>'")
    digest = _strict_base64(value.strip())
    if not digest:
        raise Unauthorized("the HMAC signature is not valid base64")
    return digest


def _strict_base64(text: str) -> bytes:
    """The decoded bytes, or b"" when `text` is not base64 (validate: stray characters are refused, not skipped)."""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error (bad alphabet or padding) and non-ASCII text are both ValueErrors
        return b""
