"""Signing in with the app's managed identity, for the services that accept its Entra ID tokens (Communication
Services, Graph, Azure DevOps): the credential, created with the first token (azure-identity loads then, not at cold
start), and how a failed sign-in reads."""

from __future__ import annotations

import threading
from typing import Any


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
                from azure.identity import ManagedIdentityCredential

                self._credential = ManagedIdentityCredential(client_id=self.client_id or None)
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
