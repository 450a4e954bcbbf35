"""How Firebell proves itself to Azure Communication Services: the resource's access key (HMAC-SHA256 signing,
shared.contacts.acs_signing), or — with no key in the settings — an Entra ID token of the function app's managed
identity for `https://communication.azure.com//.default` (audience `https://communication.azure.com/`, what
every Azure SDK for Communication Services asks), sent as `Authorization: Bearer` (SMS and Call Automation
both accept it; the identity needs a role on the resource that allows them, docs/oncall.md). No secret in the
settings then. azure-identity loads with the first token only, and caches the token until shortly before it expires.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

from shared.contacts import acs_signing
from shared.contacts.errors import ContactRejected, ContactUnavailable
from shared.core.identity import LazyManagedIdentity, first_line, no_identity_here
from shared.core.once import one_per_key

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
        self._identity = LazyManagedIdentity(client_id)

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        try:
            token = self._identity.get_token(SCOPE).token
        except Exception as failure:  # azure-identity raises CredentialUnavailableError, ClientAuthenticationError, …
            if no_identity_here(failure):
                # No key and no identity is a configuration fault: deferring would only hold the ladder 45 minutes.
                raise ContactRejected(
                    "no managed identity to sign in to Communication Services with (set ACS_ACCESS_KEY, or give the "
                    f"function app an identity): {first_line(failure)}"
                ) from None
            raise ContactUnavailable(f"no Entra ID token for Communication Services: {first_line(failure)}") from None
        return {"Authorization": f"Bearer {token}"}


def sign_in_state(access_key: str, environ: Mapping[str, str]) -> str:
    """For /health/details: how requests will be signed; "no credential" when neither a key nor a managed identity
    (the platform sets IDENTITY_ENDPOINT when the app has one) is there, so every SMS and call step would fail."""
    if access_key:
        return "configured"
    if environ.get("IDENTITY_ENDPOINT"):
        return "configured (managed identity)"
    return "no credential: set ACS_ACCESS_KEY or give the function app a managed identity"


def acs_auth(access_key: str, identity_client_id: str = "") -> AcsAuth:
    """The access key when one is set, else the managed identity (one per identity and process: the SMS sender and
    the call placer share its token)."""
    return AccessKeyAuth(access_key) if access_key else _identity_auth(identity_client_id)


@one_per_key
def _identity_auth(client_id: str) -> ManagedIdentityAuth:
    return ManagedIdentityAuth(client_id)


def forget_identities() -> None:
    """Drop the identities and their cached tokens (functions.context.reset: tests that change the identity)."""
    _identity_auth.cache_clear()
