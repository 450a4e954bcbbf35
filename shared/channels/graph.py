"""Microsoft Graph for incident channels and Teams activity notifications to one person (a paged person's
`teams_activity` rule step, shared.contacts): a few REST calls over requests, with tokens from azure-identity.

Why not msgraph-sdk: measured (Python 3.11, this machine) it brings 42 packages (392 MB for the msgraph package
alone) and takes ~0.29 s to import and build a client with the channel request builders, against ~0.16 s for
requests + azure-identity, which Firebell already ships. Six endpoints do not need a generated client.

Tokens: the client-credentials grant (`GRAPH_CLIENT_SECRET` set: ClientSecretCredential for `GRAPH_TENANT_ID` /
`GRAPH_CLIENT_ID`) or the app's managed identity (no secret: ManagedIdentityCredential, `GRAPH_CLIENT_ID` naming a
user-assigned identity when set), scope `https://graph.microsoft.com/.default`. AZURE_AUTHORITY_HOST (read by
azure-identity) points the grant at another authority (a sovereign cloud; the tests' stand-in).

Faults: 429 (after its Retry-After, up to MAX_RETRY_AFTER_SECONDS here), 5xx, timeouts and refused connections are
retried ATTEMPTS times with jittered backoff inside the call; then GraphUnavailable (with Graph's Retry-After) tells
the caller, which defers its queue message (shared.core.deferral). Other 4xx raise GraphRejected.
Everything here loads on the `channels` path and with a `teams_activity` step only: no other function's cold start
imports it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.core.errors import DependencyUnavailable, FirebellError
from shared.core.http_client import retry_after_seconds
from shared.core.identity import first_line, managed_identity_credential

log = logging.getLogger("firebell.channels")

GRAPH_URL = "https://graph.microsoft.com/v1.0"
SCOPE = "https://graph.microsoft.com/.default"
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
MAX_RETRY_AFTER_SECONDS = 10.0  # a longer Retry-After defers the queue message instead
TIMEOUT = (3.05, 15)  # connect, read
MAX_PAGES = 500  # a runaway @odata.nextLink chain stops here


class GraphError(FirebellError):
    code = "graph_failed"


class GraphRejected(GraphError):
    """Graph refused the request (4xx other than 429): sending it again cannot help."""

    def __init__(self, detail: str, status: int, graph_code: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.graph_code = graph_code


class GraphUnavailable(GraphError, DependencyUnavailable):
    """Graph failed or throttled through every attempt; not before `retry_after` seconds when it said so."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Channel:
    id: str
    display_name: str
    web_url: str


@dataclass(frozen=True)
class GraphTarget:
    """Where Graph is and who Firebell is there (shared.core.settings.Settings.graph)."""

    team_id: str
    tenant_id: str
    client_id: str
    client_secret: str
    url: str = GRAPH_URL


_credentials: dict[GraphTarget, Any] = {}
_credentials_lock = threading.Lock()


def _credential(target: GraphTarget) -> Any:
    """One credential per target and process: it caches its token until shortly before expiry."""
    with _credentials_lock:
        found = _credentials.get(target)
        if found is None:
            if target.client_secret:
                from azure.identity import ClientSecretCredential

                # Instance discovery asks login.microsoftonline.com about the authority; a configured authority
                # (AZURE_AUTHORITY_HOST) is trusted as given.
                found = ClientSecretCredential(
                    target.tenant_id, target.client_id, target.client_secret, disable_instance_discovery=True
                )
            else:
                found = managed_identity_credential(target.client_id)
            _credentials[target] = found
        return found


class Graph:
    def __init__(
        self,
        target: GraphTarget,
        *,
        attempts: int = ATTEMPTS,
        backoff_seconds: float = BACKOFF_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import requests

        self.target = target
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._session = requests.Session()
        self._team = f"{target.url.rstrip('/')}/teams/{_quoted(target.team_id)}"

    # --- channels ---------------------------------------------------------------------------------------------------
    def find_channel(self, display_name: str) -> Channel | None:
        escaped = display_name.replace("'", "''")  # OData string literal
        answer = self._call("GET", f"{self._team}/channels", params={"$filter": f"displayName eq '{escaped}'"})
        for item in answer.get("value", []):
            if isinstance(item, dict) and str(item.get("displayName", "")).lower() == display_name.lower():
                return _channel(item)
        return None

    def ensure_channel(self, display_name: str, description: str) -> tuple[Channel, bool]:
        """The standard channel of this name: found (an earlier delivery made it), else created; (channel, created)."""
        found = self.find_channel(display_name)
        if found is not None:
            return found, False
        body = {"displayName": display_name, "description": description, "membershipType": "standard"}
        try:
            return _channel(self._call("POST", f"{self._team}/channels", json=body)), True
        except GraphRejected as rejected:
            if rejected.graph_code != "NameAlreadyExists":
                raise
        found = self.find_channel(display_name)  # made meanwhile by a racing delivery (Graph refused a second one)
        if found is None:
            raise GraphUnavailable(f"Graph says channel {display_name!r} exists but does not list it yet")
        return found, False

    def rename(self, channel_id: str, display_name: str) -> None:
        self._call("PATCH", f"{self._team}/channels/{_quoted(channel_id)}", json={"displayName": display_name})

    def archive(self, channel_id: str) -> None:
        """Ask Graph to archive the channel (asynchronous: 202). An already archived channel counts as done."""
        try:
            self._call("POST", f"{self._team}/channels/{_quoted(channel_id)}/archive", json={})
        except GraphRejected as rejected:
            if rejected.status == 400 and "archived" in rejected.detail.lower():
                return
            raise

    def messages(self, channel_id: str) -> Iterator[dict[str, Any]]:
        """Every message of the channel and every reply, following @odata.nextLink pages."""
        base = f"{self._team}/channels/{_quoted(channel_id)}/messages"
        for message in self._pages(base):
            yield message
            if message.get("messageType") == "message":
                yield from self._pages(f"{base}/{_quoted(str(message.get('id', '')))}/replies")

    # --- change notifications ---------------------------------------------------------------------------------------
    def subscribe(self, channel_id: str, notification_url: str, client_state: str, expires: datetime) -> str:
        body = {
            "changeType": "created,updated",
            "notificationUrl": notification_url,
            "resource": f"/teams/{self.target.team_id}/channels/{channel_id}/messages",
            "expirationDateTime": _instant(expires),
            "clientState": client_state,
        }
        return str(self._call("POST", f"{self.target.url.rstrip('/')}/subscriptions", json=body).get("id", ""))

    def renew(self, subscription_id: str, expires: datetime) -> None:
        url = f"{self.target.url.rstrip('/')}/subscriptions/{_quoted(subscription_id)}"
        self._call("PATCH", url, json={"expirationDateTime": _instant(expires)})

    # --- one person ---------------------------------------------------------------------------------------------------
    def notify_user(self, user_id: str, notification: dict[str, Any]) -> None:
        """`POST /users/{id}/teamwork/sendActivityNotification` (application permission TeamsActivity.Send; the Teams
        app must be installed for the user, else Graph refuses: GraphRejected). Graph answers 204."""
        url = f"{self.target.url.rstrip('/')}/users/{_quoted(user_id)}/teamwork/sendActivityNotification"
        self._call("POST", url, json=notification)

    # --- HTTP -------------------------------------------------------------------------------------------------------
    def _pages(self, url: str) -> Iterator[dict[str, Any]]:
        next_url: str | None = url
        for _ in range(MAX_PAGES):
            if not next_url:
                return
            page = self._call("GET", next_url)
            for item in page.get("value", []):
                if isinstance(item, dict):
                    yield item
            link = page.get("@odata.nextLink")
            next_url = link if isinstance(link, str) and link.startswith(self.target.url.split("/v1.0")[0]) else None
        log.warning("Graph: stopped after %d pages of %s", MAX_PAGES, url)

    def _token(self) -> str:
        try:
            return _credential(self.target).get_token(SCOPE).token
        except Exception as failure:  # azure-identity raises ClientAuthenticationError and friends
            raise GraphUnavailable(f"no Graph token: {first_line(failure)}") from None

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        import requests

        problem, retry_after = "not attempted", None
        for attempt in range(1, self.attempts + 1):
            headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
            try:
                answer = self._session.request(
                    method, url, headers=headers, timeout=TIMEOUT, allow_redirects=False, **kwargs
                )
            except requests.RequestException as error:
                problem, pause = f"{type(error).__name__} reaching Graph", self._backoff(attempt)
            else:
                if 200 <= answer.status_code < 300:
                    return _document(answer)
                code, text = _error_of(answer)
                problem = f"HTTP {answer.status_code} from Graph{': ' + text if text else ''}"
                if answer.status_code == 429:
                    retry_after = retry_after_seconds(answer.headers.get("Retry-After"))
                    if retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS:
                        raise GraphUnavailable(f"{problem}; Retry-After {retry_after:.0f} s", retry_after)
                    pause = retry_after if retry_after is not None else self._backoff(attempt)
                elif 400 <= answer.status_code < 500 and answer.status_code not in (408, 409):
                    raise GraphRejected(problem, answer.status_code, code)
                else:
                    pause = self._backoff(attempt)
            if attempt < self.attempts:
                log.warning("Graph attempt %d failed (%s); retrying in %.2f s", attempt, problem, pause)
                self._sleep(pause)
        raise GraphUnavailable(f"{problem} after {self.attempts} attempts", retry_after)

    def _backoff(self, attempt: int) -> float:
        base = self.backoff_seconds * 2 ** (attempt - 1)
        return base + random.uniform(0, base / 2)  # noqa: S311 (jitter, not security)


def _channel(item: dict[str, Any]) -> Channel:
    ident = item.get("id")
    if not isinstance(ident, str) or not ident:
        raise GraphUnavailable("Graph answered a channel without an id")
    return Channel(ident, str(item.get("displayName") or ""), str(item.get("webUrl") or ""))


def _document(answer: Any) -> dict[str, Any]:
    if not answer.content:
        return {}
    try:
        document = answer.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _error_of(answer: Any) -> tuple[str, str]:
    """Graph's error code and message ({"error": {"code", "message"}}), for the caller and the timeline."""
    document = _document(answer)
    error = document.get("error") if isinstance(document.get("error"), dict) else {}
    code, message = str(error.get("code") or ""), str(error.get("message") or "")
    return code, " ".join(f"{code} {message}".split())[:200]


def _quoted(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _instant(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
