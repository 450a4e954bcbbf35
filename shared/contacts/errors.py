"""What can go wrong reaching a person through Communication Services."""

from __future__ import annotations

from shared.core.errors import DependencyUnavailable, FirebellError


class ContactFailed(FirebellError):
    """The SMS or call did not go out."""

    code = "contact_failed"


class ContactRejected(ContactFailed):
    """Refused for good (a bad number, a wrong key, an unknown sender number): trying again cannot help, so the
    person's next rule step goes out at once."""


class ContactUnavailable(ContactFailed, DependencyUnavailable):
    """Throttled (429) or down (5xx, timeouts): a later attempt may work — not before `retry_after` seconds when
    the service said so. The queue message is deferred (shared.core.deferral), never dropped."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
