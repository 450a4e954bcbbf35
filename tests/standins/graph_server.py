"""A local HTTPS server standing in for Microsoft Graph and its Entra ID token endpoint, as far as incident channels
need them.

Entra ID (what MSAL, under azure-identity's ClientSecretCredential, asks): `GET /{tenant}/v2.0/.well-known/
openid-configuration` names the token endpoint; `POST /{tenant}/oauth2/v2.0/token` with the client-credentials grant
(`client_id`, `client_secret`, `scope=https://graph.microsoft.com/.default`) answers `{"token_type": "Bearer",
"expires_in", "access_token"}`, or 401 `invalid_client` for a wrong secret. MSAL insists on HTTPS authorities, so the
server speaks TLS with the session's self-signed certificate (trusted through REQUESTS_CA_BUNDLE).

Graph v1.0 (every call needs a token it issued, else 401):
- `GET /teams/{team}/channels?$filter=displayName eq '<name>'` → `{"value": [channel…]}`;
- `POST /teams/{team}/channels` `{"displayName", "description", "membershipType": "standard"}` → 201 channel
  (`id` `19:…@thread.tacv2`, `webUrl`); a display name in use → 400 `NameAlreadyExists`; over 50 characters or
  with a forbidden character → 400 `BadRequest`;
- `PATCH /teams/{team}/channels/{id}` → 204; `POST …/{id}/archive` → 202 with a Location (archiving is
  asynchronous); archiving an archived channel → 400;
- `GET …/{id}/messages` and `GET …/{id}/messages/{message}/replies` → pages of `chatMessage`s
  (`page_size` each) linked by `@odata.nextLink`;
- `POST /subscriptions` → the validation handshake first (POST `notificationUrl?validationToken=…`, which must
  echo the token as text/plain with 200 within 10 s), then 201 the subscription; `PATCH /subscriptions/{id}`
  renews it;
- `POST /users/{id}/teamwork/sendActivityNotification` (userTeamwork: sendActivityNotification) → 204. The body as
  documented: `topic` {`source` "text" with `value` and `webUrl` (required for text), or "entityUrl"},
  `activityType`, `previewText` {`content`}, `templateParameters` [{`name`, `value`}] (the reserved `systemDefault`
  type needs `systemDefaultText`), optional `chainId` (a later notification with the same chainId replaces the
  earlier one in the feed) and `teamsAppId`; a malformed body → 400 `BadRequest`; an unknown user → 404
  `NotFound`; a user the Teams app is not installed for → 403 `Forbidden` (the documented requirement; the exact
  message text is this stand-in's).
Tests script failures for the next Graph requests (429 with Retry-After, 5xx), slow down channel creation (to widen
a race), add people's messages, and read back what arrived.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from tests.standins.entra_tokens import Certificate
from tests.standins.local_server import LocalServer

TENANT_ID = "5f1c0a8e-0000-4000-8000-0000000061ab"  # a made-up tenant
CLIENT_ID = "0b9e2d55-0000-4000-8000-00000000c0de"
CLIENT_SECRET = "graph-standin-secret"
TEAM_ID = "2ab9c1f4-0000-4000-8000-0000000007ea"
FORBIDDEN = set("~#%&*{}+/\\:<>?|'\",")


@dataclass
class Channel:
    id: str
    display_name: str
    description: str
    created: str
    archived: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def document(self, base: str) -> dict[str, Any]:
        quoted = urllib.parse.quote(self.id, safe="")
        return {
            "id": self.id,
            "createdDateTime": self.created,
            "displayName": self.display_name,
            "description": self.description,
            "membershipType": "standard",
            "isArchived": self.archived,
            "webUrl": f"https://teams.microsoft.com/l/channel/{quoted}/{urllib.parse.quote(self.display_name)}"
            f"?groupId={TEAM_ID}&tenantId={TENANT_ID}",
        }


@dataclass(frozen=True)
class ActivityNotification:
    user_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    status: int
    body: bytes = b""  # as sent, refused or not (a retry's body can be compared with the first attempt's)


class GraphServer(LocalServer):
    def __init__(self, certificate: Certificate, page_size: int = 2) -> None:
        self._lock = threading.Lock()
        self.page_size = page_size
        self.channels: dict[str, Channel] = {}
        self.tokens: set[str] = set()
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.received: list[Received] = []
        self.users: dict[str, bool] = {}  # Entra object id → whether the Teams app is installed for them
        self._feed: dict[tuple[str, Any], ActivityNotification] = {}  # (user, chainId or a fresh key) → the latest
        self._script: deque[tuple[int, dict[str, str]]] = deque()
        self.refuse_archive = False  # archiving unavailable (a team without owners, say): 403
        self.create_delay = 0.0  # seconds a channel creation takes: a wider window for racing deliveries
        super().__init__(self._app, "graph-standin", ssl_context=(str(certificate.cert), str(certificate.key)))

    # --- what the app's settings point at ---------------------------------------------------------------------------
    @property
    def graph_url(self) -> str:
        return f"{self.base}/v1.0"

    def settings(self) -> dict[str, str]:
        return {
            "GRAPH_TEAM_ID": TEAM_ID,
            "GRAPH_TENANT_ID": TENANT_ID,
            "GRAPH_CLIENT_ID": CLIENT_ID,
            "GRAPH_CLIENT_SECRET": CLIENT_SECRET,
            "GRAPH_URL": self.graph_url,
            "AZURE_AUTHORITY_HOST": self.base,
        }

    # --- scripting and reading back ---------------------------------------------------------------------------------
    def fail_next(self, status: int, retry_after: str | None = None, times: int = 1) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self._lock:
            self._script.extend((status, headers) for _ in range(times))

    def post_message(
        self,
        channel_id: str,
        person: str,
        text: str,
        at: datetime,
        reply_to: str | None = None,
        mentions_app: str | None = None,
    ) -> dict[str, Any]:
        """Someone says something in the channel (or replies in a thread), perhaps @mentioning an app (the outgoing
        webhook); returns the chatMessage."""
        message = {
            "id": str(int(at.timestamp() * 1000) + len(self.channels[channel_id].messages)),
            "replyToId": reply_to,
            "messageType": "message",
            "createdDateTime": at.isoformat().replace("+00:00", "Z"),
            "lastModifiedDateTime": at.isoformat().replace("+00:00", "Z"),
            "deletedDateTime": None,
            "from": {"user": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, person)), "displayName": person}},
            "body": {"contentType": "html", "content": f"<p>{text}</p>"},
            "channelIdentity": {"teamId": TEAM_ID, "channelId": channel_id},
            "mentions": [],
        }
        if mentions_app:
            message["body"]["content"] = f'<p><at id="0">{mentions_app}</at> {text}</p>'
            app = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, mentions_app)), "displayName": mentions_app}
            message["mentions"] = [{"id": 0, "mentionText": mentions_app, "mentioned": {"application": app}}]
        with self._lock:
            channel = self.channels[channel_id]
            if reply_to is None:
                channel.messages.append(message)
            else:
                message["id"] = f"{message['id']}{len(channel.replies.get(reply_to, []))}"
                channel.replies.setdefault(reply_to, []).append(message)
        return message

    def feed(self, user_id: str | None = None) -> list[ActivityNotification]:
        """What people's activity feeds show (a notification replaced through its chainId once)."""
        with self._lock:
            return [n for n in self._feed.values() if user_id is None or n.user_id == user_id]

    def named(self, display_name: str) -> list[Channel]:
        with self._lock:
            return [c for c in self.channels.values() if c.display_name == display_name]

    def requests(self, method: str | None = None, path_part: str = "") -> list[Received]:
        with self._lock:
            return [r for r in self.received if (method is None or r.method == method) and path_part in r.path]

    def notify(self, subscription_id: str, message_id: str, client_state: str | None = None) -> requests.Response:
        """Graph tells the subscription's notification URL of a new message (its clientState unless told another)."""
        subscription = self.subscriptions[subscription_id]
        note = {
            "subscriptionId": subscription_id,
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "changeType": "created",
            "clientState": subscription.get("clientState") if client_state is None else client_state,
            "resource": _notified_resource(subscription["resource"], message_id),
            "resourceData": {"id": message_id, "@odata.type": "#Microsoft.Graph.chatMessage"},
            "tenantId": TENANT_ID,
        }
        return requests.post(subscription["notificationUrl"], json={"value": [note]}, timeout=10)

    # --- the service ------------------------------------------------------------------------------------------------
    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._answer(request)
        with self._lock:
            self.received.append(
                Received(
                    request.method,
                    request.path,
                    request.query_string.decode(),
                    response.status_code,
                    request.get_data(cache=True),
                )
            )
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        parts = [urllib.parse.unquote(p) for p in request.path.strip("/").split("/")]
        if parts[:1] == [TENANT_ID]:
            return self._entra(request, parts[1:])
        if parts[:1] != ["v1.0"]:
            return _error(404, "NotFound", "no such endpoint")
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.tokens:
            return _error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            return _error(
                scripted[0],
                "TooManyRequests" if scripted[0] == 429 else "ServiceUnavailable",
                "scripted failure",
                scripted[1],
            )
        return self._graph(request, parts[1:])

    def _entra(self, request: Request, parts: list[str]) -> Response:
        if parts == ["v2.0", ".well-known", "openid-configuration"]:
            base = f"{self.base}/{TENANT_ID}"
            return _json(
                200,
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "issuer": f"{self.base}/{TENANT_ID}/v2.0",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                },
            )
        if parts == ["oauth2", "v2.0", "token"] and request.method == "POST":
            form = request.form
            if (
                form.get("grant_type") != "client_credentials"
                or form.get("scope") != "https://graph.microsoft.com/.default"
            ):
                return _json(400, {"error": "invalid_request", "error_description": "client credentials for Graph"})
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return _json(
                    401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."}
                )
            token = secrets.token_urlsafe(24)
            with self._lock:
                self.tokens.add(token)
            return _json(
                200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
            )
        return _error(404, "NotFound", "no such endpoint")

    def _graph(self, request: Request, parts: list[str]) -> Response:
        method = request.method
        if parts == ["subscriptions"] and method == "POST":
            return self._subscribe(request.get_json(silent=True) or {})
        if len(parts) == 2 and parts[0] == "subscriptions" and method == "PATCH":
            with self._lock:
                found = self.subscriptions.get(parts[1])
                if found is None:
                    return _error(404, "ResourceNotFound", "no such subscription")
                found["expirationDateTime"] = (request.get_json(silent=True) or {}).get("expirationDateTime")
                return _json(200, found)
        if len(parts) == 4 and parts[0] == "users" and parts[2:] == ["teamwork", "sendActivityNotification"]:
            return self._activity(parts[1], request) if method == "POST" else _error(405, "BadRequest", "method")
        if len(parts) < 3 or parts[0] != "teams" or parts[1] != TEAM_ID or parts[2] != "channels":
            return _error(404, "NotFound", "no such team or resource")
        if len(parts) == 3:
            return (
                self._list(request)
                if method == "GET"
                else self._create(request)
                if method == "POST"
                else _error(405, "BadRequest", "method")
            )
        channel = self.channels.get(parts[3])
        if channel is None:
            return _error(404, "NotFound", "channel not found")
        rest = parts[4:]
        if not rest and method == "PATCH":
            body = request.get_json(silent=True) or {}
            with self._lock:
                channel.display_name = body.get("displayName", channel.display_name)
                channel.description = body.get("description", channel.description)
            return Response(status=204)
        if not rest and method == "GET":
            return _json(200, channel.document(self.base))
        if rest == ["archive"] and method == "POST":
            if self.refuse_archive:
                return _error(403, "Forbidden", "Channel cannot be archived: the team has no owner.")
            with self._lock:
                if channel.archived:
                    return _error(400, "BadRequest", "Channel is already archived.")
                channel.archived = True
            return Response(status=202, headers={"Location": f"/teams('{TEAM_ID}')/operations('{uuid.uuid4()}')"})
        if rest == ["messages"] and method == "GET":
            return self._page(request, channel.messages)
        if len(rest) == 3 and rest[0] == "messages" and rest[2] == "replies" and method == "GET":
            return self._page(request, channel.replies.get(rest[1], []))
        return _error(404, "NotFound", "no such resource")

    def _list(self, request: Request) -> Response:
        wanted = request.args.get("$filter", "")
        prefix = "displayName eq '"
        with self._lock:
            found = list(self.channels.values())
        if wanted:
            if not wanted.startswith(prefix) or not wanted.endswith("'"):
                return _error(400, "BadRequest", "unsupported filter")
            name = wanted[len(prefix) : -1].replace("''", "'")
            found = [c for c in found if c.display_name == name]
        return _json(200, {"value": [c.document(self.base) for c in found]})

    def _create(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        name = body.get("displayName")
        if not isinstance(name, str) or not name or len(name) > 50 or FORBIDDEN & set(name):
            return _error(400, "BadRequest", "Invalid channel displayName")
        if name.startswith(("_", ".")) or name.endswith("."):
            return _error(400, "BadRequest", "Invalid channel displayName")
        if body.get("membershipType", "standard") != "standard":
            return _error(400, "BadRequest", "only standard channels here")
        if self.create_delay:
            time.sleep(self.create_delay)
        with self._lock:
            if any(c.display_name.lower() == name.lower() for c in self.channels.values()):
                return _error(400, "NameAlreadyExists", "Channel name already existed, please use other name.")
            ident = f"19:{uuid.uuid4().hex}@thread.tacv2"
            created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            channel = Channel(ident, name, str(body.get("description") or ""), created)
            self.channels[ident] = channel
        return _json(201, channel.document(self.base))

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        start = int(request.args.get("$skiptoken") or 0)
        with self._lock:
            page = items[start : start + self.page_size]
            more = start + self.page_size < len(items)
        document: dict[str, Any] = {"@odata.count": len(page), "value": page}
        if more:
            query = urllib.parse.urlencode({"$top": self.page_size, "$skiptoken": start + self.page_size})
            document["@odata.nextLink"] = f"{self.base}{request.path}?{query}"
        return _json(200, document)

    def _activity(self, user_id: str, request: Request) -> Response:
        body = request.get_json(silent=True)
        problem = _activity_problem(body)
        if problem:
            return _error(400, "BadRequest", problem)
        with self._lock:
            installed = self.users.get(user_id)
            if installed is None:
                return _error(404, "NotFound", f"User '{user_id}' was not found.")
            if not installed:
                return _error(403, "Forbidden", "The Teams app is not installed for the recipient user.")
            chain = body.get("chainId")
            key = (user_id, chain if chain is not None else uuid.uuid4().hex)
            self._feed.pop(key, None)  # a replaced notification moves to the top of the feed
            self._feed[key] = ActivityNotification(user_id, body)
        return Response(status=204)

    def _subscribe(self, body: dict[str, Any]) -> Response:
        url = body.get("notificationUrl")
        if not isinstance(url, str) or not url.startswith("http"):
            return _error(400, "InvalidRequest", "notificationUrl must be a URL")
        expires = body.get("expirationDateTime", "")
        token = f"Validation: {secrets.token_hex(8)} <&>"  # characters a careless echo would mangle
        try:
            answer = requests.post(url, params={"validationToken": token}, timeout=10)
        except requests.RequestException as error:
            return _error(400, "ValidationError", f"notification endpoint unreachable: {error}")
        if (
            answer.status_code != 200
            or answer.text != token
            or not answer.headers.get("Content-Type", "").startswith("text/plain")
        ):
            return _error(400, "ValidationError", "Subscription validation request failed.")
        ident = str(uuid.uuid4())
        subscription = {
            "id": ident,
            "resource": body.get("resource"),
            "changeType": body.get("changeType"),
            "notificationUrl": url,
            "clientState": body.get("clientState"),
            "expirationDateTime": expires,
        }
        with self._lock:
            self.subscriptions[ident] = subscription
        return _json(201, subscription)


def _json(status: int, document: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(document), status=status, headers=headers or {}, content_type="application/json")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    inner = {"date": datetime.now(UTC).isoformat(), "request-id": str(uuid.uuid4())}
    return _json(status, {"error": {"code": code, "message": message, "innerError": inner}}, headers)


def _activity_problem(body: Any) -> str:
    """Why a sendActivityNotification body is malformed, "" when it is not."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    topic = body.get("topic")
    if not isinstance(topic, dict) or topic.get("source") not in ("text", "entityUrl"):
        return "topic.source must be text or entityUrl"
    if not isinstance(topic.get("value"), str) or not topic["value"]:
        return "topic.value is required"
    web_url = topic.get("webUrl")
    if topic["source"] == "text" and (not isinstance(web_url, str) or not web_url.startswith("https://")):
        return "topic.webUrl is required for a text topic"
    if not isinstance(body.get("activityType"), str) or not body["activityType"]:
        return "activityType is required"
    preview = body.get("previewText")
    if preview is not None and (not isinstance(preview, dict) or not isinstance(preview.get("content"), str)):
        return "previewText must be an itemBody with content"
    parameters = body.get("templateParameters", [])
    if not isinstance(parameters, list) or not all(
        isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("value"), str) for p in parameters
    ):
        return "templateParameters must be keyValuePairs"
    if body["activityType"] == "systemDefault" and "systemDefaultText" not in {p["name"] for p in parameters}:
        return "the systemDefault activity type needs the systemDefaultText template parameter"
    chain = body.get("chainId")
    if chain is not None and (isinstance(chain, bool) or not isinstance(chain, int) or not 0 <= chain < 2**63):
        return "chainId must be an Int64"
    return ""


def _notified_resource(resource: str, message_id: str) -> str:
    """`/teams/T/channels/C/messages` as a notification names it: `teams('T')/channels('C')/messages('M')`."""
    _, team, _, channel, _ = resource.strip("/").split("/")
    return f"teams('{team}')/channels('{channel}')/messages('{message_id}')"


def later(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
