"""The Entra ID tenant's published token-signing keys (JWKS), fetched over HTTPS with PyJWT and cached per process.

`SigningKeys.key_for` is the `signing_key_for` that `shared.secure_webhook.verify_bearer` expects:
- the key set is cached (`cache_seconds`), so a steady stream of alerts costs no request to Entra ID;
- a key id missing from the cached set triggers one refetch (Entra ID rotates keys), but at most one per
  `refresh_interval_seconds`, so tokens with forged key ids cannot make us hammer Entra ID;
- a key set that cannot be fetched or is unusable raises a 503-class error, which Azure Monitor retries
  (it does not retry a 401, so a transient outage must not look like a bad token).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import jwt
from jwt import PyJWK, PyJWKSet

from shared.core.errors import DependencyUnavailable, Unauthorized

log = logging.getLogger("firebell.signing_keys")

KEYS_UNAVAILABLE_DETAIL = "Entra ID signing keys cannot be fetched; retry later"
UNKNOWN_KEY_DETAIL = "token is signed with a key id that the Entra ID tenant does not publish"


class SigningKeys:
    """One tenant's key set: cached, refetched for an unknown kid at most once per refresh interval."""

    def __init__(
        self,
        jwks_url: str,
        *,
        cache_seconds: float = 3600,
        refresh_interval_seconds: float = 60,
        timeout_seconds: float = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Short timeout: the alert webhook must answer quickly; a slow Entra ID becomes a retried 503.
        self._client = jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=cache_seconds, timeout=timeout_seconds)
        self._jwks_url = jwks_url
        self._refresh_interval = refresh_interval_seconds
        self._clock = clock
        self._last_refresh: float | None = None
        # One lookup at a time, so concurrent requests with an unknown kid share one refetch.
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> Any:
        """The RSA public key Entra ID publishes under `kid`; Unauthorized when it publishes none."""
        with self._lock:
            key = _signing_key(self._key_set(refresh=False), kid)
            if key is None and self._may_refresh():
                key = _signing_key(self._key_set(refresh=True), kid)
        if key is None:
            raise Unauthorized(UNKNOWN_KEY_DETAIL)
        return key.key

    def _may_refresh(self) -> bool:
        now = self._clock()
        if self._last_refresh is not None and now - self._last_refresh < self._refresh_interval:
            return False
        # Counted when attempted, not when successful: a failing Entra ID is not retried per request either.
        self._last_refresh = now
        return True

    def _key_set(self, *, refresh: bool) -> PyJWKSet:
        try:
            return self._client.get_jwk_set(refresh=refresh)
        except jwt.PyJWKClientConnectionError as error:
            log.warning("signing keys: cannot fetch %s (%s)", self._jwks_url, type(error.__cause__ or error).__name__)
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, ValueError, OSError) as error:
            # Not JSON, no usable keys, or the connection broke mid-body: Entra ID's problem, retry later.
            log.warning("signing keys: unusable answer from %s (%s)", self._jwks_url, type(error).__name__)
        raise DependencyUnavailable(KEYS_UNAVAILABLE_DETAIL)


def _signing_key(key_set: PyJWKSet, kid: str) -> PyJWK | None:
    # Only RSA signature keys: an "oct" (HMAC) or encryption key under a matching kid must never verify a token.
    return next(
        (
            key
            for key in key_set.keys
            if key.key_id == kid and key.key_type == "RSA" and key.public_key_use in ("sig", None)
        ),
        None,
    )


@cache
def signing_keys(jwks_url: str) -> SigningKeys:
    """One cache per key-set URL per process, shared by every invocation of the alerts function."""
    return SigningKeys(jwks_url)
