"""A local HTTP server standing in for Azure DevOps (Boards) — the endpoints the azure-devops SDK calls — and for the
App Service managed identity endpoint that azure-identity asks for tokens.

Azure DevOps, as the SDK sees it:
- `OPTIONS {org}/_apis`: location discovery — the resource locations with their route templates and versions;
- `GET {org}/_apis/ResourceAreas`: where each area (work item tracking here) lives;
- `POST {org}/{project}/_apis/wit/workItems/${type}` and `PATCH …/workItems/{id}`: JSON Patch documents
  (`application/json-patch+json`), validated as Boards does: unknown fields (TF51535), values a rule refuses
  (TF401320: priority, state, assignee, empty title), area paths (TF401347), relations to items that do not exist,
  unknown work item types (404, VS402323);
- `POST {org}/{project}/_apis/wit/wiql`: WIQL — `[System.Tags] CONTAINS '<tag>'`, matching whole tags as Boards does;
- `GET/POST {org}/{project}/_apis/wit/workItems/{id}/comments`;
- `GET/PUT {org}/{project}/_apis/wiki/wikis/{project}.wiki/pages?path=…`: the project wiki's pages. A GET answers the
  page (content with `includeContent=True`) and its version as `ETag` (404 WikiPageNotFoundException when there is
  none); a PUT without `If-Match` creates the page (409 WikiPageAlreadyExistsException when it exists), with
  `If-Match` edits it (412 when the version is not the page's current one, 404 when there is no page).
Every request must carry the api-version the SDK negotiates in its `Accept` header (`application/json;
api-version=7.1-preview.3`), within the range the location advertises, and the right credentials: Basic with the
PAT, or Bearer with the token this server's identity endpoint issued.

Managed identity (App Service): `GET /msi/token?api-version=2019-08-01&resource=…` with `X-IDENTITY-HEADER`.

Service hooks (Web Hooks consumer, event `workitem.updated`): a test subscribes a URL with the credentials a
subscription holds (basic auth user name and password, custom headers); every update that changes a work item's
state is then POSTed there as the documented event (built from tests/fixtures/azure-devops/workitem_updated.json),
before the PATCH is answered. `redeliver` sends an earlier event's exact bytes again, as Azure DevOps retries.
`change_state` moves a work item as a person does in the Boards UI: a PATCH over this server's own HTTP API.

Tests script faults for the next matching requests — a status (429 with Retry-After, 500, 503) or a slow answer (the
work is done, the answer comes late: a create that timed out but happened) — or a throttling storm (`throttle` …
`calm`: 429 with Retry-After for every request, or an evenly spread fraction of them), and read back every request.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import requests
from werkzeug.wrappers import Request, Response

from tests.standins.local_server import LocalServer

HOOK_SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "azure-devops" / "workitem_updated.json"

AZURE_DEVOPS_RESOURCE = "499b84ac-1321-427f-aa17-267ca6975798"
WIT_AREA_ID = "5264459e-e5e0-4bd8-b118-0985e68a4ec5"
WIKI_AREA_ID = "bf7d82a0-8aa5-4613-94ef-6172a5ea01f3"


@dataclass(frozen=True)
class Location:
    id: str
    area: str
    resource: str
    template: str
    resource_version: int
    min_version: str = "1.0"
    max_version: str = "7.2"
    released_version: str = "7.1"

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "area": self.area,
            "resourceName": self.resource,
            "routeTemplate": self.template,
            "resourceVersion": self.resource_version,
            "minVersion": self.min_version,
            "maxVersion": self.max_version,
            "releasedVersion": self.released_version,
        }


# The ids are Azure DevOps' own; the templates and versions are the service's.
RESOURCE_AREAS = Location(
    "e81700f7-3be2-46de-8624-2eb35882fcaa",
    "Location",
    "ResourceAreas",
    "_apis/{resource}/{areaId}",
    1,
    "3.2",
    "7.2",
    "0.0",
)
CREATE = Location(
    "62d3d110-0047-428c-ad3c-4fe872c91c74", "wit", "workItems", "{project}/_apis/{area}/{resource}/${type}", 3
)
WORK_ITEMS = Location(
    "72c7ddf8-2cdc-4f60-90cd-ab71c14a399b", "wit", "workItems", "{project}/_apis/{area}/{resource}/{id}", 3
)
WIQL = Location(
    "1a9c53f7-f243-4447-b110-35ef023636e4", "wit", "wiql", "{project}/{team}/_apis/{area}/{resource}/{id}", 2
)
COMMENTS = Location(
    "608aac0a-32e1-4493-a863-b9cf4566d257",
    "wit",
    "comments",
    "{project}/_apis/{area}/workItems/{workItemId}/{resource}/{commentId}",
    4,
    released_version="0.0",
)
WIKI_PAGES = Location(
    "25d3fbc7-fe3d-46cb-b5a5-0b6f79caf27b",
    "wiki",
    "pages",
    "{project}/_apis/{area}/wikis/{wikiIdentifier}/{resource}",
    1,
    released_version="0.0",
)
LOCATIONS = (RESOURCE_AREAS, CREATE, WORK_ITEMS, WIQL, COMMENTS, WIKI_PAGES)

COMMON_FIELDS = {
    "System.Title",
    "System.Description",
    "System.Tags",
    "System.AreaPath",
    "System.IterationPath",
    "System.State",
    "System.Reason",
    "System.AssignedTo",
    "System.History",
    "Microsoft.VSTS.Common.Priority",
}
# An Agile project, plus Basic's Issue: the fields and states each type has.
TYPES: dict[str, tuple[set[str], tuple[str, ...]]] = {
    "Bug": (
        COMMON_FIELDS | {"Microsoft.VSTS.TCM.ReproSteps", "Microsoft.VSTS.Common.Severity"},
        ("New", "Active", "Resolved", "Closed"),
    ),
    "Task": (COMMON_FIELDS | {"Microsoft.VSTS.Scheduling.RemainingWork"}, ("New", "Active", "Closed", "Removed")),
    "User Story": (COMMON_FIELDS, ("New", "Active", "Resolved", "Closed", "Removed")),
    "Issue": (COMMON_FIELDS, ("To Do", "Doing", "Done")),
}
DISPLAY_NAMES = {"Microsoft.VSTS.Common.Priority": "Priority", "System.State": "State", "System.Title": "Title"}
DISPLAY_NAMES["System.AssignedTo"] = "Assigned To"
LINK_TYPES = {"System.LinkTypes.Hierarchy-Reverse", "System.LinkTypes.Hierarchy-Forward", "System.LinkTypes.Related"}
_API_VERSION = re.compile(r"api-version=(?P<version>(?P<number>\d+\.\d+)(?:-preview(?:\.(?P<resource>\d+))?)?)")
_TAG_CONDITION = re.compile(r"\[System\.Tags\]\s+CONTAINS\s+'((?:[^']|'')*)'", re.IGNORECASE)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    arrived: float  # time.monotonic()
    status: int
    api_version: str | None
    authorization: str | None
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fault:
    status: int | None = None  # answer this instead of doing the work
    retry_after: str | None = None
    delay: float = 0.0  # do the work, then answer this late
    method: str | None = None
    path_contains: str | None = None
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains.lower() in path.lower()
        )


@dataclass
class WikiPage:
    path: str
    content: str
    id: int
    versions: int = 1  # each save is a commit in the wiki's repository

    @property
    def etag(self) -> str:
        return f'"{self.id:04d}{self.versions:036x}"'


@dataclass
class WorkItem:
    id: int
    type: str
    fields: dict[str, Any]
    relations: list[dict[str, Any]] = field(default_factory=list)
    rev: int = 1
    comments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tags(self) -> list[str]:
        return [tag.strip() for tag in str(self.fields.get("System.Tags", "")).split(";") if tag.strip()]


@dataclass
class Subscription:
    """A Web Hooks subscription to `workitem.updated`: where, and the credentials Azure DevOps sends."""

    url: str
    username: str = ""
    password: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HookDelivery:
    url: str
    body: bytes
    headers: dict[str, str]
    status: int  # what the subscriber answered
    answer: Any  # its JSON answer (None when not JSON)


class Rejection(Exception):
    def __init__(self, status: int, message: str, type_key: str) -> None:
        super().__init__(message)
        self.status, self.message, self.type_key = status, message, type_key


class BoardsServer(LocalServer):
    """Azure DevOps for one organisation and project, on 127.0.0.1 and a free port."""

    def __init__(
        self,
        project: str = "Firebell",
        pat: str | None = None,
        areas: tuple[str, ...] = ("Checkout", "Platform"),
        identities: tuple[str, ...] = (),
        extra_fields: dict[str, set[str]] | None = None,
        changed_by: str = "Priya Raman <priya.raman@example.com>",
    ) -> None:
        self.project = project
        # A process whose types have more fields than the Agile ones (e.g. a due date on Task, added to the type).
        self.types = {
            name: (fields | (extra_fields or {}).get(name, set()), states) for name, (fields, states) in TYPES.items()
        }
        self.changed_by = changed_by  # who the service hook events say changed a work item
        self.subscriptions: list[Subscription] = []
        self.hook_deliveries: list[HookDelivery] = []
        self.pat = pat if pat is not None else secrets.token_urlsafe(24)
        self.token = "mi-" + secrets.token_urlsafe(24)  # what the identity endpoint issues
        self.identity_header = secrets.token_hex(16)
        self.org = "org-" + secrets.token_hex(4)  # a fresh organisation per server: the SDK caches per URL
        self.areas = {project, *(f"{project}\\{area}" for area in areas)}
        self.identities = {identity.lower() for identity in identities}
        self.items: dict[int, WorkItem] = {}
        self.pages: dict[str, WikiPage] = {}  # the project wiki, by path
        self.token_requests = 0
        self.token_client_ids: list[str] = []  # the client_id of each token request ("" for system-assigned)
        self._next_id = 1
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._faults: deque[Fault] = deque()
        self._storm: tuple[float, str] | None = None  # (fraction of requests throttled, Retry-After)
        self._storm_seen = 0
        super().__init__(self._app, "boards-standin")

    @property
    def org_url(self) -> str:
        return f"{self.base}/{self.org}"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.base}/msi/token"

    # --- scripting and reading back ---------------------------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        with self._lock:
            self._faults.append(Fault(status, retry_after, 0.0, method, path_contains, times))

    def clear_faults(self) -> None:
        """Forget every scripted fault still pending: the outage is over."""
        with self._lock:
            self._faults.clear()

    def throttle(self, retry_after: str, fraction: float = 1.0) -> None:
        """Until `calm()`, answer 429 with `retry_after` to every request (the managed identity endpoint aside) or, with
        `fraction` below 1, to that share of them spread evenly: the n-th request is throttled when
        ⌊n·fraction⌋ > ⌊(n−1)·fraction⌋."""
        with self._lock:
            self._storm, self._storm_seen = (fraction, retry_after), 0

    def calm(self) -> None:
        with self._lock:
            self._storm = None

    def slow_next(
        self, seconds: float, *, times: int = 1, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """The next matching request is carried out, but answered only after `seconds`."""
        with self._lock:
            self._faults.append(Fault(None, None, seconds, method, path_contains, times))

    def clear(self) -> None:
        """Forget every work item, request and scripted fault: an empty project in the same organisation (the SDK's
        discovery cache for it stays valid)."""
        with self._lock:
            self.items.clear()
            self.pages.clear()
            self._received.clear()
            self._faults.clear()
            self._storm = None

    def requests(self, method: str | None = None, path_contains: str | None = None) -> list[Received]:
        with self._lock:
            return [
                r
                for r in self._received
                if (method is None or r.method == method)
                and (path_contains is None or path_contains.lower() in r.path.lower())
            ]

    def work_items(self, type_name: str | None = None) -> list[WorkItem]:
        with self._lock:
            return [item for item in self.items.values() if type_name is None or item.type == type_name]

    def wiki_page(self, path: str) -> str | None:
        with self._lock:
            page = self.pages.get(path)
            return page.content if page else None

    def edit_wiki_page(self, path: str, content: str) -> None:
        """A person saves the page in the wiki's editor: a new version."""
        with self._lock:
            page = self.pages[path]
            page.content, page.versions = content, page.versions + 1

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f":{self.pat}".encode()).decode()

    # --- service hooks ------------------------------------------------------------------------------------------------
    def subscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self.subscriptions.append(subscription)

    def change_state(self, work_item_id: int, state: str) -> dict[str, Any]:
        """Move a work item to `state` as a person does in Boards: a JSON Patch over this server's REST API."""
        answer = requests.patch(
            f"{self.org_url}/{self.project}/_apis/wit/workItems/{work_item_id}",
            data=json.dumps([{"op": "replace", "path": "/fields/System.State", "value": state}]),
            headers={
                "Authorization": self.basic(),
                "Content-Type": "application/json-patch+json",
                "Accept": "application/json;api-version=7.1-preview.3",
            },
            timeout=30,
        )
        answer.raise_for_status()
        return answer.json()

    def redeliver(self, delivery: HookDelivery) -> HookDelivery:
        """The same event again, byte for byte, to the same subscriber (Azure DevOps retries a failed delivery)."""
        return self._post_hook(delivery.url, delivery.body, delivery.headers)

    def _notify(self, before: WorkItem, after: WorkItem) -> None:
        changed = sorted(
            name for name in set(before.fields) | set(after.fields) if before.fields.get(name) != after.fields.get(name)
        )
        if "System.State" not in changed:
            return  # the subscriptions here filter on state changes (changedFields = System.State)
        body = json.dumps(self._hook_event(before, after, changed)).encode()
        for subscription in list(self.subscriptions):
            headers = {"Content-Type": "application/json; charset=utf-8", **subscription.headers}
            if subscription.username or subscription.password:
                credentials = f"{subscription.username}:{subscription.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
            self._post_hook(subscription.url, body, headers)

    def _post_hook(self, url: str, body: bytes, headers: dict[str, str]) -> HookDelivery:
        answer = requests.post(url, data=body, headers=headers, timeout=30)
        try:
            document = answer.json()
        except ValueError:
            document = None
        delivery = HookDelivery(url, body, headers, answer.status_code, document)
        with self._lock:
            self.hook_deliveries.append(delivery)
        return delivery

    def _hook_event(self, before: WorkItem, after: WorkItem, changed: list[str]) -> dict[str, Any]:
        """The documented `workitem.updated` event for this update: the sample's shape with this item's facts."""
        event = copy.deepcopy(json.loads(HOOK_SAMPLE.read_text()))
        item_url = f"{self.org_url}/_apis/wit/workItems/{after.id}"
        title, kind = after.fields.get("System.Title", ""), after.type
        summary = f"{kind} #{after.id} ({title}) updated by {self.changed_by.split(' <')[0]}."
        event["id"] = str(uuid.uuid4())
        event["message"] = {"text": summary, "html": summary, "markdown": summary}
        event["detailedMessage"] = {
            "text": f"{summary}\r\n\r\n- New State: {after.fields['System.State']}\r\n",
            "html": summary,
            "markdown": summary,
        }
        event["createdDate"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        fields: dict[str, Any] = {}
        for name in changed:
            change = {"newValue": after.fields.get(name)}
            if before.fields.get(name) is not None:
                change = {"oldValue": before.fields[name], **change}
            fields[name] = change
        event["resource"] = {
            "id": after.rev - 1,
            "workItemId": after.id,
            "rev": after.rev,
            "revisedBy": {"displayName": self.changed_by.split(" <")[0]},
            "revisedDate": after.fields["System.ChangedDate"],
            "fields": fields,
            "_links": {
                "self": {"href": f"{item_url}/updates/{after.rev - 1}"},
                "parent": {"href": item_url},
                "workItemUpdates": {"href": f"{item_url}/updates"},
            },
            "url": f"{item_url}/updates/{after.rev - 1}",
            "revision": {
                "id": after.id,
                "rev": after.rev,
                "fields": {**after.fields, "System.ChangedBy": self.changed_by},
                "url": f"{item_url}/revisions/{after.rev}",
            },
        }
        return event

    # --- the server ---------------------------------------------------------------------------------------------------
    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        arrived = time.monotonic()
        body = request.get_data()
        path = unquote(request.path)
        fault = self._fault_for(request.method, path)
        if fault is not None and fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            response = _wrapped(fault.status, f"Injected {fault.status}", "InjectedFault", headers)
        else:
            response = self._answer(request, path, body)
        version = _API_VERSION.search(request.headers.get("Accept", ""))
        with self._lock:
            self._received.append(
                Received(
                    request.method,
                    path,
                    arrived,
                    response.status_code,
                    version["version"] if version else None,
                    request.headers.get("Authorization"),
                    body,
                )
            )
        if fault is not None and fault.delay:
            time.sleep(fault.delay)  # done and recorded already: only the answer is late
        return response(environ, start_response)

    def _fault_for(self, method: str, path: str) -> Fault | None:
        if path.startswith("/msi/"):
            return None
        with self._lock:
            if self._storm is not None:
                fraction, retry_after = self._storm
                self._storm_seen += 1
                n = self._storm_seen
                if int(n * fraction) > int((n - 1) * fraction):
                    return Fault(429, retry_after)
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _answer(self, request: Request, path: str, body: bytes) -> Response:
        if path == "/msi/token":
            return self._token(request)
        prefix = f"/{self.org}/"
        if not path.lower().startswith(prefix):
            return _wrapped(404, f"TF400813: organisation not found: {path}", "OrganizationNotFoundException")
        if request.headers.get("Authorization") not in (self.basic(), f"Bearer {self.token}"):
            return Response("Unauthorized", status=401, headers={"WWW-Authenticate": "Basic, Bearer"})
        rest = path[len(prefix) :]
        try:
            if rest.lower() == "_apis" and request.method == "OPTIONS":
                return _json({"count": len(LOCATIONS), "value": [location.document() for location in LOCATIONS]})
            if rest.lower() == "_apis/resourceareas" and request.method == "GET":
                self._check_version(request, RESOURCE_AREAS)
                areas = [
                    {"id": WIT_AREA_ID, "name": "wit", "locationUrl": f"{self.org_url}/"},
                    {"id": WIKI_AREA_ID, "name": "wiki", "locationUrl": f"{self.org_url}/"},
                ]
                return _json({"count": len(areas), "value": areas})
            return self._project_route(request, rest, body)
        except Rejection as rejection:
            return _wrapped(rejection.status, rejection.message, rejection.type_key)

    def _project_route(self, request: Request, rest: str, body: bytes) -> Response:
        project, _, route = rest.partition("/")
        if project != self.project:
            raise Rejection(404, f"TF200016: The following project does not exist: {project}.", "ProjectDoesNotExist")
        route_lower = route.lower()
        method = request.method
        if route_lower == "_apis/wit/wiql" and method == "POST":
            self._check_version(request, WIQL)
            return self._wiql(body)
        match = re.fullmatch(r"_apis/wit/workitems/\$(.+)", route, re.IGNORECASE)
        if match and method == "POST":
            self._check_version(request, CREATE)
            self._check_patch(request)
            return self._create(match[1], body)
        match = re.fullmatch(r"_apis/wit/workitems/(\d+)/comments", route, re.IGNORECASE)
        if match:
            self._check_version(request, COMMENTS)
            return self._comments(request, int(match[1]), body)
        match = re.fullmatch(r"_apis/wiki/wikis/([^/]+)/pages", route, re.IGNORECASE)
        if match and method in ("GET", "PUT"):
            self._check_version(request, WIKI_PAGES)
            if match[1].lower() != f"{self.project}.wiki".lower():
                raise Rejection(404, f"The wiki {match[1]} does not exist.", "WikiNotFoundException")
            return self._wiki_page(request, body)
        match = re.fullmatch(r"_apis/wit/workitems/(\d+)", route, re.IGNORECASE)
        if match and method in ("PATCH", "GET"):
            self._check_version(request, WORK_ITEMS)
            if method == "GET":
                return _json(self._document(self._item(int(match[1]))))
            self._check_patch(request)
            return self._update(int(match[1]), body)
        return _wrapped(404, f"no route for {method} {route}", "RouteNotFound")

    # --- protocol checks ----------------------------------------------------------------------------------------------
    @staticmethod
    def _check_version(request: Request, location: Location) -> None:
        """The api-version goes in Accept, negotiated against the location: the SDK's own contract."""
        match = _API_VERSION.search(request.headers.get("Accept", ""))
        if match is None:
            raise Rejection(400, "VS800071: No api-version was supplied in the Accept header.", "VssVersionMissing")
        number = float(match["number"])
        if not float(location.min_version) <= number <= float(location.max_version):
            raise Rejection(
                400,
                f"VS800075: api-version {match['version']} is outside {location.min_version}–{location.max_version} "
                f"for {location.resource}.",
                "VssVersionOutOfRangeException",
            )
        if match["resource"] is not None and int(match["resource"]) > location.resource_version:
            raise Rejection(400, f"VS800076: {location.resource} has no resource version {match['resource']}.", "Vss")
        if "preview" not in match["version"] and number > float(location.released_version):
            raise Rejection(400, f"VS800077: {match['version']} of {location.resource} is a preview.", "Vss")

    @staticmethod
    def _check_patch(request: Request) -> None:
        if not (request.headers.get("Content-Type") or "").startswith("application/json-patch+json"):
            raise Rejection(
                415, "VS403420: work items take application/json-patch+json documents.", "UnsupportedMediaType"
            )

    def _operations(self, body: bytes) -> list[dict[str, Any]]:
        try:
            document = json.loads(body)
        except ValueError:
            raise Rejection(400, "VS402316: the JSON Patch document is not JSON.", "InvalidPatch") from None
        if not isinstance(document, list) or not document:
            raise Rejection(400, "VS402316: a JSON Patch document is a non-empty array.", "InvalidPatch")
        for operation in document:
            if not isinstance(operation, dict) or operation.get("op") not in ("add", "replace", "remove", "test"):
                raise Rejection(400, f"VS402316: invalid operation {operation!r}.", "InvalidPatch")
            if not isinstance(operation.get("path"), str) or not operation["path"].startswith("/"):
                raise Rejection(400, f"VS402316: invalid path in {operation!r}.", "InvalidPatch")
            if operation["op"] != "remove" and "value" not in operation:
                raise Rejection(400, f"VS402316: {operation['path']} needs a value.", "InvalidPatch")
        return document

    def _apply(self, item: WorkItem, document: list[dict[str, Any]], known: set[str], states: tuple[str, ...]) -> None:
        for operation in document:
            path, value = operation["path"], operation.get("value")
            if path == "/rev" and operation["op"] == "test":
                if value != item.rev:
                    raise Rejection(412, f"VS402320: revision {value} is not the current {item.rev}.", "RevMismatch")
                continue
            if path == "/relations/-" and operation["op"] == "add":
                item.relations.append(self._relation(value))
                continue
            if not path.startswith("/fields/"):
                raise Rejection(400, f"VS402316: cannot {operation['op']} {path}.", "InvalidPatch")
            name = path.removeprefix("/fields/")
            if name not in known:
                raise Rejection(
                    400, f"TF51535: Cannot find field {name}.", "WorkItemTrackingFieldDefinitionNotFoundException"
                )
            if operation["op"] == "remove":
                item.fields.pop(name, None)
            else:
                item.fields[name] = self._value(name, value, states)

    def _value(self, name: str, value: Any, states: tuple[str, ...]) -> Any:
        def refuse(code: str) -> Rejection:
            shown = DISPLAY_NAMES.get(name, name)
            return Rejection(
                400, f"TF401320: Rule Error for field {shown}. Error code: {code}.", "RuleValidationException"
            )

        if name == "System.Title" and (not isinstance(value, str) or not value.strip() or len(value) > 255):
            raise refuse("Required, InvalidEmpty, LimitedToValues")
        if name == "Microsoft.VSTS.Common.Priority" and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4
        ):
            raise refuse("LimitedToValues")
        if name == "System.State" and value not in states:
            raise refuse("LimitedToValues, AllowsOldValue")
        if name == "System.AssignedTo" and str(value).lower() not in self.identities:
            raise refuse("ValidIdentity")
        if name == "System.AreaPath" and value not in self.areas:
            raise Rejection(
                400,
                "TF401347: Invalid tree name given for work item -1, field 'System.AreaPath'.",
                "WorkItemTrackingTreeNodeNotFoundException",
            )
        if name == "System.Tags" and not isinstance(value, str):
            raise refuse("InvalidType")
        return value

    def _relation(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or value.get("rel") not in LINK_TYPES:
            raise Rejection(400, f"VS402625: unknown link type in {value!r}.", "WorkItemLinkTypeNotFound")
        match = re.search(r"/_apis/wit/workItems/(\d+)$", str(value.get("url", "")), re.IGNORECASE)
        if match is None or int(match[1]) not in self.items:
            raise Rejection(
                400, f"TF201036: the linked work item {value.get('url')!r} does not exist.", "WorkItemLinkInvalid"
            )
        return value

    # --- work items ---------------------------------------------------------------------------------------------------
    def _create(self, type_name: str, body: bytes) -> Response:
        document = self._operations(body)
        if type_name not in self.types:
            raise Rejection(
                404,
                f"VS402323: Work item type {type_name} does not exist in project {self.project} or you do not "
                "have permission to access it.",
                "WorkItemTypeNotFoundException",
            )
        known, states = self.types[type_name]
        with self._lock:
            item = WorkItem(self._next_id, type_name, {"System.State": states[0], "System.AreaPath": self.project})
            self._apply(item, document, known, states)
            if "System.Title" not in item.fields:
                raise Rejection(400, "TF401320: Rule Error for field Title. Error code: Required.", "RuleValidation")
            item.fields["System.WorkItemType"] = type_name
            item.fields["System.TeamProject"] = self.project
            self.items[item.id] = item
            self._next_id += 1
            return _json(self._document(item))

    def _update(self, work_item_id: int, body: bytes) -> Response:
        document = self._operations(body)
        with self._lock:
            item = self._item(work_item_id)
            known, states = self.types[item.type]
            changed = WorkItem(item.id, item.type, dict(item.fields), list(item.relations), item.rev, item.comments)
            self._apply(changed, document, known, states)  # all or nothing, as Boards saves a revision
            changed.rev += 1
            changed.fields["System.ChangedDate"] = datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
            self.items[item.id] = changed
        self._notify(item, changed)  # service hooks hear of it (outside the lock: the subscriber may call back)
        return _json(self._document(changed))

    def _item(self, work_item_id: int) -> WorkItem:
        item = self.items.get(work_item_id)
        if item is None:
            raise Rejection(
                404,
                f"TF401232: Work item {work_item_id} does not exist, or you do not have permissions to read it.",
                "WorkItemUnauthorizedAccessException",
            )
        return item

    def _document(self, item: WorkItem) -> dict[str, Any]:
        url = f"{self.org_url}/_apis/wit/workItems/{item.id}"
        html = f"{self.org_url}/{self.project}/_workitems/edit/{item.id}"
        return {
            "id": item.id,
            "rev": item.rev,
            "fields": item.fields,
            "relations": item.relations,
            "url": url,
            "_links": {"self": {"href": url}, "html": {"href": html}},
        }

    def _wiql(self, body: bytes) -> Response:
        try:
            query = json.loads(body)["query"]
        except (ValueError, KeyError, TypeError):
            raise Rejection(400, "VS402337: the request needs a WIQL query.", "InvalidQuery") from None
        if "from workitems" not in query.lower():
            raise Rejection(400, f"TF51006: the query is not valid WIQL: {query}", "InvalidQuery")
        tags = [value.replace("''", "'").lower() for value in _TAG_CONDITION.findall(query)]
        with self._lock:
            found = sorted(
                item.id
                for item in self.items.values()
                if all(tag in (own.lower() for own in item.tags) for tag in tags)
            )
        return _json(
            {
                "queryType": "flat",
                "queryResultType": "workItem",
                "asOf": "2024-01-01T00:00:00Z",
                "columns": [
                    {"referenceName": "System.Id", "name": "ID", "url": f"{self.org_url}/_apis/wit/fields/System.Id"}
                ],
                "workItems": [{"id": ident, "url": f"{self.org_url}/_apis/wit/workItems/{ident}"} for ident in found],
            }
        )

    def _comments(self, request: Request, work_item_id: int, body: bytes) -> Response:
        with self._lock:
            item = self._item(work_item_id)
            if request.method == "GET":
                return _json({"totalCount": len(item.comments), "count": len(item.comments), "comments": item.comments})
            if request.method != "POST":
                raise Rejection(405, "method not allowed", "MethodNotAllowed")
            try:
                text = json.loads(body)["text"]
            except (ValueError, KeyError, TypeError):
                raise Rejection(400, "VS402360: a comment needs text.", "InvalidComment") from None
            if not isinstance(text, str) or not text.strip():
                raise Rejection(400, "VS402360: a comment needs text.", "InvalidComment")
            comment = {"id": len(item.comments) + 1, "workItemId": item.id, "version": 1, "text": text}
            item.comments.append(comment)
            return _json(comment)

    # --- managed identity ---------------------------------------------------------------------------------------------
    def _wiki_page(self, request: Request, body: bytes) -> Response:
        path = request.args.get("path") or ""
        if not path.startswith("/"):
            raise Rejection(400, "The page path must start with /.", "WikiPagePathInvalidException")
        with self._lock:
            page = self.pages.get(path)
            if request.method == "GET":
                if page is None:
                    raise Rejection(404, f"The page '{path}' could not be found.", "WikiPageNotFoundException")
                return self._page_answer(page, request.args.get("includeContent", "").lower() == "true", 200)
            try:
                content = json.loads(body)["content"]
            except (ValueError, KeyError, TypeError):
                raise Rejection(400, 'The body must be {"content": …}.', "InvalidArgumentValueException") from None
            version = request.headers.get("If-Match")
            if version is None:
                if page is not None:
                    raise Rejection(
                        409,
                        f"The page '{path}' specified in the add operation already exists in the wiki. Please specify "
                        "a new page path.",
                        "WikiPageAlreadyExistsException",
                    )
                page = self.pages[path] = WikiPage(path, str(content), len(self.pages) + 1)
                return self._page_answer(page, True, 201)
            if page is None:
                raise Rejection(404, f"The page '{path}' could not be found.", "WikiPageNotFoundException")
            if version != page.etag:
                raise Rejection(
                    412,
                    "The page has been modified since it was read; get its latest version.",
                    "WikiPageVersionConflict",
                )
            page.content, page.versions = str(content), page.versions + 1
            return self._page_answer(page, True, 200)

    def _page_answer(self, page: WikiPage, content: bool, status: int) -> Response:
        wiki = f"{self.org_url}/{self.project}/_apis/wiki/wikis/{self.project}.wiki"
        document = {
            "id": page.id,
            "path": page.path,
            "gitItemPath": page.path.replace(" ", "-") + ".md",
            "url": f"{wiki}/pages/{page.id}",
            "remoteUrl": f"{self.org_url}/{self.project}/_wiki/wikis/{self.project}.wiki/{page.id}",
            **({"content": page.content} if content else {}),
        }
        answer = _json(document)
        answer.status_code = status
        answer.headers["ETag"] = page.etag
        return answer

    def _token(self, request: Request) -> Response:
        if request.headers.get("X-IDENTITY-HEADER") != self.identity_header:
            return _json({"statusCode": 401, "message": "bad X-IDENTITY-HEADER"}, 401)
        if request.args.get("api-version") != "2019-08-01" or request.args.get("resource") != AZURE_DEVOPS_RESOURCE:
            return _json({"statusCode": 400, "message": f"unexpected {dict(request.args)}"}, 400)
        with self._lock:
            self.token_requests += 1
            self.token_client_ids.append(request.args.get("client_id", ""))
        return _json(
            {
                "access_token": self.token,
                "expires_on": str(int(time.time()) + 3600),
                "resource": AZURE_DEVOPS_RESOURCE,
                "token_type": "Bearer",
                "client_id": "00000000-0000-0000-0000-00000000f00d",
            }
        )


def _json(document: Any, status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, content_type="application/json; charset=utf-8")


def _wrapped(status: int, message: str, type_key: str, headers: dict[str, str] | None = None) -> Response:
    """Azure DevOps' error body (a WrappedException), which the SDK turns into AzureDevOpsServiceError."""
    document = {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": f"Microsoft.TeamFoundation.{type_key}, Microsoft.TeamFoundation",
        "typeKey": type_key,
        "errorCode": 0,
        "eventId": 3200,
    }
    response = _json(document, status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
