"""The Entra ID tenant's published token-signing keys (JWKS), fetched over HTTPS and cached per process.

`SigningKeys.key_for` is the `signing_key_for` that `shared.azure_monitor.secure_webhook.verify_bearer` expects:
- the key set is fresh for `cache_seconds`, so a steady stream of alerts costs no request to Entra ID;
- when it is stale (or there is none) one request fetches it, outside the lock, while the others keep using the last
  good set if they can, or wait for that one fetch's outcome (never more than one fetch timeout): one fetch in flight;
- while Entra ID fails, the last good set is served for up to `max_age_seconds` after it was fetched (24 h), and a
  failed fetch is not retried for `retry_seconds`; with no good set that recent, a lookup is a 503-class error, which
  Azure Monitor retries (it does not retry a 401, so an outage must not look like a bad token);
- a key id missing from a fresh set triggers one refetch (Entra ID rotates keys), at most one per
  `refresh_interval_seconds`, so tokens with forged key ids cannot make us hammer Entra ID. Only a request whose
  own refetch (or the one it waited for) succeeded without the key id gets 401; inside the rate window, or when that
  refetch failed, the answer is 503: a genuine token signed with a just-rotated key is retried, not lost.

PyJWT parses the key set; only RSA signature keys are kept (an HMAC or encryption key must never verify a token).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWK, PyJWKSet

from shared.core.errors import DependencyUnavailable, Unauthorized
from shared.core.once import one_per_key

log = logging.getLogger("firebell.signing_keys")

KEYS_UNAVAILABLE_DETAIL = "Entra ID signing keys cannot be fetched; retry later"
UNKNOWN_KEY_DETAIL = "token is signed with a key id that the Entra ID tenant does not publish"
UNKNOWN_KEY_RETRY_DETAIL = "token is signed with a key id not in the cached Entra ID key set; retry later"


@dataclass(frozen=True)
class _KeySet:
    keys: Mapping[str, PyJWK]  # kid → RSA signature key
    fetched_at: float  # monotonic seconds


class _Fetch:
    """One fetch in flight. Its outcome is the new key set, or None when the fetch failed."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.key_set: _KeySet | None = None


class SigningKeys:
    """One tenant's key set: cached, refreshed by one fetch at a time, its last good version served while Entra ID
    fails (bounded), refetched for an unknown kid at most once per refresh interval."""

    def __init__(
        self,
        jwks_url: str,
        *,
        cache_seconds: float = 3600,
        max_age_seconds: float = 24 * 3600,
        refresh_interval_seconds: float = 60,
        retry_seconds: float = 10,
        timeout_seconds: float = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age_seconds < cache_seconds:
            raise ValueError("max_age_seconds must be at least cache_seconds")
        # PyJWKClient only downloads (its own cache is off: freshness and fallback are decided here). It refuses
        # redirects. Short timeout: the alert webhook must answer quickly; a slow Entra ID becomes a retried 503.
        self._client = jwt.PyJWKClient(jwks_url, cache_jwk_set=False, timeout=timeout_seconds)
        self._jwks_url = jwks_url
        self._cache_seconds = cache_seconds
        self._max_age = max_age_seconds
        self._refresh_interval = refresh_interval_seconds
        self._retry_seconds = retry_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        # Guards the fields below; never held while fetching.
        self._lock = threading.Lock()
        self._held: _KeySet | None = None  # the last good key set
        self._fetch: _Fetch | None = None  # the fetch in flight
        self._failed_at: float | None = None  # when the last fetch failed (None after a success)
        self._refetched_at: float | None = None  # when the last refetch for an unknown kid started

    def key_for(self, kid: str) -> Any:
        """The RSA public key Entra ID publishes under `kid`.

        Unauthorized when a key set fetched for this lookup lacks `kid`; DependencyUnavailable when no key set can
        answer now (Entra ID failing with no good set within the bound, or an unknown kid inside the rate window).
        """
        with self._lock:
            now = self._clock()
            held = self._held
            age = now - held.fetched_at if held is not None else math.inf
            key = held.keys.get(kid) if held is not None else None
            if key is not None and age < self._cache_seconds:
                return key.key
            # The last good key, still within the bound: it answers whenever a fetch cannot (yet).
            fallback = key if age < self._max_age else None
            unknown_kid = key is None and age < self._cache_seconds  # a fresh set lacks it: maybe a rotated key
            fetch, owner = self._fetch, False
            if fetch is None and self._may_fetch(now, unknown_kid=unknown_kid):
                fetch = self._fetch = _Fetch()
                owner = True
        if fetch is None:  # Entra ID failed moments ago, or an unknown kid's refetch is rate limited
            if fallback is not None:
                return fallback.key
            raise DependencyUnavailable(UNKNOWN_KEY_RETRY_DETAIL if unknown_kid else KEYS_UNAVAILABLE_DETAIL)
        if owner:
            self._run(fetch)
        elif fallback is not None:
            return fallback.key  # someone is refreshing; the last good set answers meanwhile
        else:
            fetch.done.wait(self._timeout)
        fetched = fetch.key_set
        if fetched is not None:
            found = fetched.keys.get(kid)
            if found is None:
                raise Unauthorized(UNKNOWN_KEY_DETAIL)
            return found.key
        if fallback is not None:
            return fallback.key
        raise DependencyUnavailable(KEYS_UNAVAILABLE_DETAIL)

    def _may_fetch(self, now: float, *, unknown_kid: bool) -> bool:
        if self._failed_at is not None and now - self._failed_at < self._retry_seconds:
            return False
        if unknown_kid:
            if self._refetched_at is not None and now - self._refetched_at < self._refresh_interval:
                return False
            # Counted when attempted, not when successful: forged kids cannot make us refetch more often either.
            self._refetched_at = now
        return True

    def _run(self, fetch: _Fetch) -> None:
        """Fetch outside the lock; then publish the outcome to the cache and to whoever waits on this fetch."""
        keys: Mapping[str, PyJWK] | None = None
        try:
            keys = self._download()
        finally:
            with self._lock:
                now = self._clock()
                if keys is not None:
                    fetch.key_set = self._held = _KeySet(keys, now)
                    self._failed_at = None
                else:
                    self._failed_at = now
                    self._report_fallback(now)
                self._fetch = None
            fetch.done.set()

    def _download(self) -> Mapping[str, PyJWK] | None:
        try:
            document = self._client.fetch_data()
            if not isinstance(document, dict):
                raise jwt.PyJWKClientError("the key set is not a JSON object")
            keys = _signature_keys(PyJWKSet.from_dict(document))
        except jwt.PyJWKClientConnectionError as error:
            log.warning("signing keys: cannot fetch %s (%s)", self._jwks_url, type(error.__cause__ or error).__name__)
            return None
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, ValueError, OSError) as error:
            # Not JSON, no usable keys, or the connection broke mid-body: Entra ID's problem, retry later.
            log.warning("signing keys: unusable answer from %s (%s)", self._jwks_url, type(error).__name__)
            return None
        if not keys:
            log.warning("signing keys: unusable answer from %s (no RSA signature key)", self._jwks_url)
            return None
        return keys

    def _report_fallback(self, now: float) -> None:
        held = self._held
        if held is not None and now - held.fetched_at < self._max_age:
            log.warning(
                "signing keys: serving the last good key set, fetched %.0f s ago, for up to %.0f s more",
                now - held.fetched_at,
                self._max_age - (now - held.fetched_at),
            )
        else:
            log.warning("signing keys: no key set fetched within %.0f s; secure-webhook alerts get 503", self._max_age)


def _signature_keys(key_set: PyJWKSet) -> dict[str, PyJWK]:
    # Only RSA signature keys: an "oct" (HMAC) or encryption key under a matching kid must never verify a token.
    keys: dict[str, PyJWK] = {}
    for key in key_set.keys:
        if key.key_id and key.key_type == "RSA" and key.public_key_use in ("sig", None):
            keys.setdefault(key.key_id, key)
    return keys


@one_per_key
def signing_keys(jwks_url: str) -> SigningKeys:
    """One cache per key-set URL per process, shared by every invocation of the alerts function."""
    return SigningKeys(jwks_url)
