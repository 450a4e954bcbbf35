"""Signing in with the app's managed identity, for every service that accepts its Entra ID tokens (storage,
Communication Services, Graph, Azure DevOps): the credential — made in one place, and lazily where it is only
needed for a first token (azure-identity loads then, not at cold start) — and how a failed sign-in reads."""

from __future__ import annotations

import threading
from typing import Any


def managed_identity_credential(client_id: str = "") -> Any:
    """The app's managed identity: user-assigned when `client_id` names one, else system-assigned."""
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id or None)


class LazyManagedIdentity:
    """The managed identity (user-assigned when `client_id` names one, else system-assigned), created on first use
    and kept: azure-identity caches its token until shortly before it expires."""

    def __init__(self, client_id: str = "") -> None:
        self.client_id = client_id
        self._credential: Any = None
        self._lock = threading.Lock()

    def get_token(self, *scopes: str) -> Any:
        with self._lock:
            if self._credential is None:
                self._credential = managed_identity_credential(self.client_id)
        return self._credential.get_token(*scopes)


def first_line(failure: BaseException) -> str:
    """An azure-identity error in one short line (its messages run to many lines of troubleshooting links)."""
    text = str(failure).strip()
    return text.splitlines()[0][:200] if text else type(failure).__name__


def no_identity_here(failure: BaseException) -> bool:
    """True when no managed identity exists in this environment at all (nothing to wait for), as opposed to a
    sign-in that failed or an identity endpoint that is down."""
    from azure.identity import CredentialUnavailableError

    return isinstance(failure, CredentialUnavailableError)
