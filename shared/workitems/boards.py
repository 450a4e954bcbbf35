"""Azure Boards through the azure-devops SDK: find a work item by its tag (WIQL), create, update, comment.

The SDK, msrest and azure-identity load on first use, inside this module's functions only, so no other function's
cold start pays for them (bench/cold_start.py measures it).

Every request the SDK makes — location discovery (`OPTIONS {org}/_apis`, `GET _apis/ResourceAreas`) included — goes
through one requests transport adapter that our credentials object mounts on the SDK's session. It bounds each
request's time, turns urllib3's hidden retries off (msrest's policy would repeat requests behind our back, and a
repeated create is a duplicate work item), and remembers the status and Retry-After of the last answer, which the
SDK's exceptions drop. Retrying is ours: 429, 5xx, timeouts and refused connections are tried again with backoff,
honouring Retry-After, a bounded number of times. A create is never repeated blindly: each attempt first looks the
item up by its unique tag, so a create that timed out but happened is found instead of made twice.
"""

from __future__ import annotations

import base64
import email.utils
import functools
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from shared.core import telemetry
from shared.core.errors import DependencyUnavailable, FirebellError
from shared.core.identity import LazyManagedIdentity
from shared.workitems import plan as work_item
from shared.workitems.config import HttpPolicy

log = logging.getLogger("firebell.boards")

# Azure DevOps' application id in Entra ID: a managed identity asks for a token for this resource.
AZURE_DEVOPS_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"
_IN_PROJECT = "[System.TeamProject] = @project"
COMMENT_PAGE = 200  # the comments API returns at most 200 per page
T = TypeVar("T")


class BoardsError(FirebellError):
    code = "boards_failed"


class BoardsRejected(BoardsError):
    """Azure DevOps refused the request (400, or 404 for an unknown work item type or item): sending it again cannot
    help. `field` names what it refused — a field reference name, "work item type 'Bugg'", …"""

    code = "boards_rejected"

    def __init__(self, detail: str, *, field: str, status: int) -> None:
        super().__init__(detail)
        self.field = field
        self.status = status


class BoardsUnavailable(BoardsError, DependencyUnavailable):
    """Throttled (429), failing (5xx), slow or unreachable through every attempt; a later delivery may succeed."""

    code = "boards_unavailable"

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class BoardsAuthFailed(BoardsError):
    """401/403, or no token: the PAT expired, the identity lacks access, or no managed identity exists here."""

    code = "boards_unauthorized"


@dataclass(frozen=True)
class WorkItemRef:
    id: int
    url: str  # where people open it


class _Observed(threading.local):
    """The last answer on this thread: the SDK raises without its status or headers."""

    status: int | None = None
    retry_after: str | None = None


class Boards:
    """One Azure DevOps project. Thread-safe; the SDK client is built on first use (location discovery is cached by
    the SDK, in memory and under AZURE_DEVOPS_CACHE_DIR)."""

    def __init__(
        self,
        org_url: str,
        project: str,
        policy: HttpPolicy,
        *,
        pat: str = "",
        identity_client_id: str = "",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.org_url = org_url.rstrip("/")
        self.project = project
        self.policy = policy
        self._pat = pat
        self._identity_client_id = identity_client_id
        self._sleep = sleep
        self._observed = _Observed()
        self._client_lock = threading.Lock()
        self._wit: Any = None
        self._wiki: Any = None
        self._connection: Any = None
        # The user-assigned identity storage uses (AZURE_CLIENT_ID, else AzureWebJobsStorage__clientId); none named:
        # the system-assigned identity. Its own lock inside: client set-up (holding ours) asks for a token.
        self._token_source = LazyManagedIdentity(identity_client_id)

    # --- what callers ask -----------------------------------------------------------------------------------------
    def ensure(self, tag: str, work_item_type: str, document: list[dict[str, Any]]) -> tuple[WorkItemRef, bool]:
        """The work item carrying `tag`: found (False) or created from `document` (True). Every attempt looks first,
        so a retry after a create that timed out finds what it made."""

        def attempt() -> tuple[WorkItemRef, bool]:
            found = self._find(tag)
            if found is not None:
                return self.ref(found), False
            created = self._client().create_work_item(_operations(document), self.project, work_item_type)
            log.info("boards: created %s %s (%s)", work_item_type, created.id, tag)
            telemetry.count(telemetry.WORK_ITEMS_CREATED, type=work_item_type)
            return self.ref(int(created.id)), True

        return self._retrying(f"creating a {work_item_type}", attempt)

    def update(self, work_item_id: int, document: list[dict[str, Any]]) -> None:
        """Set fields (idempotent, so plainly retried)."""
        self._retrying(
            f"updating work item {work_item_id}",
            lambda: self._client().update_work_item(_operations(document), work_item_id, self.project),
        )

    def ensure_comment(self, work_item_id: int, marker: str, html: str) -> bool:
        """Add the comment unless one containing `marker` is there already (True when added)."""

        def attempt() -> bool:
            if any(marker in text for text in self._comments(work_item_id)):
                return False
            from azure.devops.v7_1.work_item_tracking.models import CommentCreate

            self._client().add_comment(CommentCreate(text=html), self.project, work_item_id)
            return True

        return self._retrying(f"commenting on work item {work_item_id}", attempt)

    def ref(self, work_item_id: int) -> WorkItemRef:
        return WorkItemRef(work_item_id, work_item.web_url(self.org_url, self.project, work_item_id))

    def api_url(self, work_item_id: int) -> str:
        return work_item.api_url(self.org_url, work_item_id)

    # --- the SDK --------------------------------------------------------------------------------------------------
    def _client(self) -> Any:
        with self._client_lock:
            if self._wit is None:
                # Looks up where work item tracking lives (OPTIONS + ResourceAreas) unless the SDK has it cached.
                self._wit = self._connected().clients_v7_1.get_work_item_tracking_client()
            return self._wit

    def _connected(self) -> Any:
        """The SDK's connection to the organisation (the caller holds the client lock)."""
        if self._connection is None:
            from azure.devops.connection import Connection

            credentials = _Credentials(self._authorization, self.policy.timeout_seconds, self._observed)
            self._connection = Connection(base_url=self.org_url, creds=credentials)
        return self._connection

    def with_wiki(self, what: str, step: Callable[[Any], T]) -> T:
        """`step(wiki client)` of the project's wiki, with the same credentials, retries and errors as work items
        (shared.postmortems.wiki publishes review drafts through it)."""

        def attempt() -> T:
            with self._client_lock:
                if self._wiki is None:
                    self._wiki = self._connected().clients_v7_1.get_wiki_client()
            return step(self._wiki)

        return self._retrying(what, attempt)

    def _find(self, tag: str) -> int | None:
        from azure.devops.v7_1.work_item_tracking.models import TeamContext, Wiql

        # WIQL, not SQL: the tag is ours (an incident id and a digest); quotes are doubled all the same.
        quoted = tag.replace("'", "''")
        query = f"SELECT [System.Id] FROM WorkItems WHERE {_IN_PROJECT} AND [System.Tags] CONTAINS '{quoted}'"  # noqa: S608
        query += " ORDER BY [System.Id]"
        result = self._client().query_by_wiql(Wiql(query=query), team_context=TeamContext(project=self.project))
        ids = [int(reference.id) for reference in result.work_items or []]
        return min(ids) if ids else None

    def _comments(self, work_item_id: int) -> list[str]:
        texts: list[str] = []
        token = None
        while True:
            page = self._client().get_comments(self.project, work_item_id, top=COMMENT_PAGE, continuation_token=token)
            texts += [comment.text or "" for comment in page.comments or []]
            token = page.continuation_token
            if not token:
                return texts

    def _authorization(self) -> str:
        if self._pat:
            return "Basic " + base64.b64encode(f":{self._pat}".encode()).decode()
        return "Bearer " + self._token_source.get_token(AZURE_DEVOPS_SCOPE).token  # cached by azure-identity

    # --- retrying -------------------------------------------------------------------------------------------------
    def _retrying(self, what: str, step: Callable[[], T]) -> T:
        policy = self.policy
        for attempt in range(1, policy.attempts + 1):
            try:
                return self._translated(what, step)
            except BoardsUnavailable as failure:
                pause = failure.retry_after if failure.retry_after is not None else self._backoff(attempt)
                if attempt == policy.attempts or pause > policy.max_backoff_seconds:
                    raise  # the queue delivers the message again later
                log.warning(
                    "boards: %s (attempt %d/%d); again in %.1fs", failure.detail, attempt, policy.attempts, pause
                )
                self._sleep(pause)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _backoff(self, attempt: int) -> float:
        pause = self.policy.first_backoff_seconds * 2 ** (attempt - 1)
        return min(self.policy.max_backoff_seconds, pause * random.uniform(0.75, 1.25))  # noqa: S311 (jitter)

    def _translated(self, what: str, step: Callable[[], T]) -> T:
        self._observed.status = self._observed.retry_after = None
        try:
            return step()
        except BoardsError:
            raise
        except Exception as error:
            typed = _typed(what, error, self._observed.status, self._observed.retry_after)
            if typed is None:
                raise
            raise typed from error


# --- errors ---------------------------------------------------------------------------------------------------------
_REFUSED_FIELD = (
    re.compile(r"TF51535: Cannot find field (?P<field>\S+?)\.?(\s|$)"),
    re.compile(r"TF401320: Rule Error for field (?P<field>.+?)\."),
    re.compile(r"TF401326: Invalid field status '\w+' for field '(?P<field>[^']+)'"),
)
_UNKNOWN_TYPE = re.compile(r"VS402323: Work item type (?P<type>.+?) does not exist")
_UNKNOWN_ITEM = re.compile(r"TF401232: Work item (?P<id>\d+) does not exist")


def _typed(what: str, error: Exception, status: int | None, retry_after: str | None) -> BoardsError | None:
    """The SDK's, msrest's or azure-identity's exception as one of ours; None for anything else (a bug: re-raised)."""
    from azure.core.exceptions import ClientAuthenticationError
    from msrest.exceptions import ClientException

    message = _message(error)
    if isinstance(error, ClientAuthenticationError):
        return BoardsAuthFailed(f"{what}: no token for Azure DevOps from the managed identity ({message})")
    if not isinstance(error, ClientException):
        return None
    if status is None:
        return BoardsUnavailable(f"{what}: Azure DevOps did not answer ({_transport_problem(error)})")
    if status == 429 or status >= 500:
        return BoardsUnavailable(
            f"{what}: Azure DevOps answered {status}" + (f" ({message})" if message else ""),
            retry_after=_seconds(retry_after),
        )
    if status in (401, 403):
        return BoardsAuthFailed(f"{what}: Azure DevOps refused the credentials ({status}): {message}")
    if status < 400:
        return BoardsUnavailable(f"{what}: Azure DevOps answered {status} with something unexpected ({message})")
    field = _refused(error, message)
    return BoardsRejected(f"{field} — {message}" if message else field, field=field, status=status)


def _refused(error: Exception, message: str) -> str:
    """What a 4xx names: the field, the work item type or the work item; "request" when it names nothing."""
    for pattern in _REFUSED_FIELD:
        match = pattern.search(message)
        if match:
            return match["field"]
    match = _UNKNOWN_TYPE.search(message)
    if match:
        return f"work item type {match['type']!r}"
    match = _UNKNOWN_ITEM.search(message)
    if match:
        return f"work item {match['id']}"
    properties = getattr(error, "custom_properties", None) or {}
    named = properties.get("FieldReferenceName") or properties.get("ReferenceName")
    return str(named) if named else "request"


def _message(error: Exception) -> str:
    text = getattr(error, "message", None) or str(error)
    return " ".join(str(text).split())[:500]


def _transport_problem(error: Exception) -> str:
    import requests

    inner = getattr(error, "inner_exception", None) or error.__cause__
    if isinstance(inner, requests.Timeout):
        return "timed out"
    if isinstance(inner, requests.ConnectionError):
        return "connection failed"
    return type(inner or error).__name__


def _seconds(retry_after: str | None) -> float | None:
    """Retry-After as delay-seconds or an HTTP date (RFC 9110)."""
    if not retry_after:
        return None
    value = retry_after.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


# --- the SDK's session: credentials and transport ------------------------------------------------------------------
class _Credentials:
    """msrest credentials (it only calls `signed_session`): sets the Authorization header on the SDK's session and
    mounts our transport on it, once per session."""

    def __init__(self, authorization: Callable[[], str], timeout: float, observed: _Observed) -> None:
        self._authorization = authorization
        self._timeout = timeout
        self._observed = observed

    def signed_session(self, session: Any = None) -> Any:
        import requests

        session = session if session is not None else requests.Session()
        session.headers["Authorization"] = self._authorization()
        transport = _transport_class()
        if not isinstance(session.get_adapter("https://"), transport):
            adapter = transport(self._timeout, self._observed)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        return session


@functools.cache
def _transport_class() -> type:
    from requests.adapters import HTTPAdapter

    class BoundedTransport(HTTPAdapter):
        """No retries of its own, a time limit on every request, and a note of each answer's status."""

        def __init__(self, timeout: float, observed: _Observed) -> None:
            super().__init__(max_retries=0)
            self._timeout = timeout
            self._observed = observed

        def send(self, request: Any, stream: bool = False, timeout: Any = None, **kwargs: Any) -> Any:
            self._observed.status = self._observed.retry_after = None
            response = super().send(request, stream=stream, timeout=self._timeout, **kwargs)
            self._observed.status = response.status_code
            self._observed.retry_after = response.headers.get("Retry-After")
            return response

    return BoundedTransport


def _operations(document: list[dict[str, Any]]) -> list[Any]:
    from azure.devops.v7_1.work_item_tracking.models import JsonPatchOperation

    return [JsonPatchOperation(op=op["op"], path=op["path"], value=op.get("value")) for op in document]


# --- one client per project and credentials ------------------------------------------------------------------------
_clients: dict[tuple[Any, ...], Boards] = {}
_clients_lock = threading.Lock()


def boards_for(org_url: str, project: str, pat: str, policy: HttpPolicy) -> Boards:
    """The process's client for this project: PAT (Basic) when one is set, else the managed identity (Bearer).
    Reused across invocations so discovery and tokens are fetched once."""
    import os

    from shared.core.storage import managed_identity_client_id

    client_id = "" if pat else managed_identity_client_id(os.environ)
    identity = (os.environ.get("IDENTITY_ENDPOINT", ""), os.environ.get("IDENTITY_HEADER", ""), client_id)
    key = (org_url, project, pat, policy, identity if not pat else None)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = Boards(org_url, project, policy, pat=pat, identity_client_id=client_id)
        return _clients[key]
