"""Typed errors of the core. The HTTP edge maps each to one status code (functions/http_edge.py)."""

from __future__ import annotations


class FirebellError(Exception):
    """Base of every error the edge knows how to answer. `code` is machine-readable, the message is for people."""

    code = "error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class InvalidInput(FirebellError):
    """The caller sent something we cannot accept; nothing was stored."""

    code = "invalid_input"


class PayloadTooLarge(FirebellError):
    code = "payload_too_large"


class Unauthorized(FirebellError):
    code = "unauthorized"


class NotFound(FirebellError):
    code = "not_found"


class PreconditionFailed(FirebellError):
    """The caller's If-Match names a version that is no longer the stored one; nothing was changed."""

    code = "precondition_failed"


class StorageUnavailable(FirebellError):
    """Azure Storage could not be reached; callers such as Azure Monitor should retry."""

    code = "storage_unavailable"


class DependencyUnavailable(FirebellError):
    """A service Firebell relies on (Entra ID signing keys, …) did not answer; the caller should retry."""

    code = "dependency_unavailable"


class ConfigurationError(FirebellError):
    """The configuration in FIREBELL_CONFIG_DIR is invalid. The message names file, key and problem."""

    code = "configuration_invalid"


def reason(failure: BaseException) -> str:
    """What a failure says on the timeline and in logs: a Firebell error's own sentence, else its type and text."""
    if isinstance(failure, FirebellError):
        return failure.detail
    return f"{type(failure).__name__}: {failure}"[:300]
