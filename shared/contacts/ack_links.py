"""Signed one-time acknowledgement links: `…/api/ack/<token>` in an SMS acknowledges one incident as one person.
Pure; that a token is used once is the ledger's (shared.contacts.ledger).

A token is `<payload>.<signature>`, both base64url: the payload names the incident, the person, when it expires and
a random nonce (its single-use key); the signature is HMAC-SHA256 (truncated to 128 bits) under
FIREBELL_ACK_LINK_KEY. Nothing in it is secret but the signature; a changed letter anywhere fails it, compared in
constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.core.errors import Unauthorized

LIFETIME = timedelta(hours=24)  # a page is answered within hours; a day-old link is an old page
MAX_TOKEN = 600


@dataclass(frozen=True)
class AckGrant:
    incident: str
    person: str
    expires: datetime
    nonce: str


def issue(incident: str, person: str, now: datetime, key: bytes, lifetime: timedelta = LIFETIME) -> str:
    payload = {"i": incident, "p": person, "e": int((now + lifetime).timestamp()), "n": secrets.token_urlsafe(9)}
    encoded = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{encoded}.{_b64(_mac(encoded, key))}"


def verify(token: str, now: datetime, key: bytes) -> AckGrant:
    """The grant a token carries; Unauthorized when it is malformed, forged or expired (the edge answers 401)."""
    if not key:
        raise Unauthorized("acknowledgement links are not configured (FIREBELL_ACK_LINK_KEY)")
    encoded, _, signature = token.partition(".")
    if len(token) > MAX_TOKEN or not encoded or not signature:
        raise Unauthorized("this acknowledgement link is not valid")
    try:
        given = _unb64(signature)
        payload = json.loads(_unb64(encoded))
    except (ValueError, UnicodeDecodeError):
        raise Unauthorized("this acknowledgement link is not valid") from None
    if not hmac.compare_digest(given, _mac(encoded, key)):
        raise Unauthorized("this acknowledgement link is not valid")
    try:
        grant = AckGrant(
            str(payload["i"]), str(payload["p"]), datetime.fromtimestamp(int(payload["e"]), UTC), str(payload["n"])
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        raise Unauthorized("this acknowledgement link is not valid") from None
    if now >= grant.expires:
        raise Unauthorized("this acknowledgement link has expired; reply to the SMS or use Teams")
    return grant


def _mac(encoded: str, key: bytes) -> bytes:
    # Truncated to 128 bits (RFC 2104 allows it; NIST SP 800-107 counts it as 128-bit strength): the link must fit
    # in a two-segment SMS with the incident's title.
    return hmac.new(key, encoded.encode(), hashlib.sha256).digest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
