"""How Firebell proves itself to Azure Communication Services: the resource's access key (HMAC-SHA256 signing,
shared.contacts.acs_signing), or — with no key in the settings — an Entra ID token of the function app's managed
identity for `https://communication.azure.com//.default` (audience `https://communication.azure.com/`, what
every Azure SDK for Communication Services asks), sent as `Authorization: Bearer` (SMS and Call Automation
both accept it; the identity needs a role on the resource that allows them, docs/oncall.md). No secret in the
settings then. azure-identity loads with the first token only, and caches the token until shortly before it expires.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from shared.contacts import acs_signing
from shared.contacts.errors import ContactRejected, ContactUnavailable

# Double slash on purpose: the resource is "https://communication.azure.com/" (the SDKs' get_authentication_policy).
SCOPE = "https://communication.azure.com//.default"


class AcsAuth(Protocol):
    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]: ...


class AccessKeyAuth:
    def __init__(self, access_key: str) -> None:
        self._key = access_key

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        try:
            # Signed with the wall clock, whatever clock the flow runs on: the service refuses a date 15 minutes off.
            return acs_signing.signed_headers(method, url, body, self._key, datetime.now(UTC))
        except ValueError:
            raise ContactRejected("ACS_ACCESS_KEY is not a base64 key") from None


class ManagedIdentityAuth:
    """The app's managed identity: user-assigned when `client_id` names one (AZURE_CLIENT_ID, else the storage
    connection's), else system-assigned."""

    def __init__(self, client_id: str = "") -> None:
        self.client_id = client_id
        self._credential: Any = None
        self._lock = threading.Lock()

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        with self._lock:
            if self._credential is None:
                from azure.identity import ManagedIdentityCredential

                self._credential = ManagedIdentityCredential(client_id=self.client_id or None)
        try:
            token = self._credential.get_token(SCOPE).token
        except Exception as failure:  # azure-identity raises CredentialUnavailableError, ClientAuthenticationError, …
            reason = str(failure).splitlines()[0][:200] if str(failure) else type(failure).__name__
            raise ContactUnavailable(f"no Entra ID token for Communication Services: {reason}") from None
        return {"Authorization": f"Bearer {token}"}


def acs_auth(access_key: str, identity_client_id: str = "") -> AcsAuth:
    """The access key when one is set, else the managed identity (one per identity and process: the SMS sender and
    the call placer share its token)."""
    return AccessKeyAuth(access_key) if access_key else _identity_auth(identity_client_id)


@cache
def _identity_auth(client_id: str) -> ManagedIdentityAuth:
    return ManagedIdentityAuth(client_id)


def forget_identities() -> None:
    """Drop the identities and their cached tokens (functions.context.reset: tests that change the identity)."""
    _identity_auth.cache_clear()
