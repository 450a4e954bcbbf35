"""An Azure DevOps service hook (Web Hooks consumer) event → who may send it, and what a work item update says.

Azure DevOps' web hook sends the event as JSON with the credentials its subscription holds: basic authentication
(user name and password) and/or custom HTTP headers. Firebell accepts either form carrying the shared secret set as
BOARDS_SERVICE_HOOK_SECRET: the password of basic authentication (any user name), or the `X-Firebell-Secret`
header. Secrets are compared as SHA-256 digests with hmac.compare_digest: constant time, whatever their lengths.

The event is `workitem.updated` (MicrosoftDocs/azure-devops-docs, docs/service-hooks/events.md): `resource` is the
update (`id` the update's number, `workItemId` the work item), `resource.fields` the changed fields as
`{"oldValue", "newValue"}`, `resource.revision` the work item after the update (`id` the work item again, `fields`
plain values). Pure: a decoded JSON object in, a WorkItemUpdate or an Ignored out, InvalidInput naming the field
for anything not shaped like that.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.core.errors import ConfigurationError, InvalidInput, Unauthorized
from shared.core.text import clean
from shared.core.timeutil import parse_instant

SECRET_SETTING = "BOARDS_SERVICE_HOOK_SECRET"  # noqa: S105 (the name of a setting, not a secret)
SECRET_HEADER = "X-Firebell-Secret"  # noqa: S105 (a header name)
WORK_ITEM_UPDATED = "workitem.updated"
MAX_NAME = 200
MAX_STATE = 128
_EMAIL_SUFFIX = re.compile(r"\s*<[^<>]*>\s*$")  # "Jamal Hartnett <fabrikamfiber4@hotmail.com>" → the name


@dataclass(frozen=True)
class WorkItemUpdate:
    work_item_id: int
    rev: int  # the work item's revision this update made: with the id, names the fact
    state: str | None  # the new System.State when this update changed it, else None
    previous_state: str | None
    changed_by: str  # a display name ("" when the event names nobody)
    changed_at: datetime  # when Boards saved it (System.ChangedDate), else when the event was created


@dataclass(frozen=True)
class Ignored:
    """A well-formed event Firebell has nothing to do for (another event type): answered 202 with the reason."""

    reason: str


def verify_credentials(authorization: str | None, header_secret: str | None, secret: str) -> None:
    """Return when the request carries the shared secret (basic auth password, or the X-Firebell-Secret header)."""
    expected = (secret or "").strip()
    if not expected:
        raise ConfigurationError(
            f"Azure Boards service hook: {SECRET_SETTING} is not set", code="not_configured"
        )  # our problem, not the caller's
    offered = _basic_password(authorization) if authorization else None
    if offered is None and header_secret is not None:
        offered = header_secret.strip()
    if offered is None:
        raise Unauthorized(f"no credentials: send the secret as the basic auth password or in {SECRET_HEADER}")
    if not hmac.compare_digest(_digest(offered), _digest(expected)):
        raise Unauthorized(f"the service hook's secret does not match {SECRET_SETTING}")


def _basic_password(authorization: str) -> str | None:
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise Unauthorized("the basic auth credentials are not valid base64 of user:password") from None
    _user, colon, password = decoded.partition(":")  # any user name: the password is the secret
    if not colon:
        raise Unauthorized("the basic auth credentials are not user:password")
    return password


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def parse_event(document: dict[str, Any]) -> WorkItemUpdate | Ignored:
    event_type = document.get("eventType")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidInput(f"eventType must be a non-empty string, got {_shown(event_type)}")
    if event_type != WORK_ITEM_UPDATED:
        return Ignored(f"event type {clean(event_type)[:60]!r} is not {WORK_ITEM_UPDATED}; nothing to do")
    resource = document.get("resource")
    if not isinstance(resource, dict):
        raise InvalidInput(f"resource must be an object (the work item update), got {_shown(resource)}")
    fields = _object(resource.get("fields"), "resource.fields")
    revision = _object(resource.get("revision"), "resource.revision")
    revised = _object(revision.get("fields"), "resource.revision.fields")
    work_item_id = _positive(resource.get("workItemId")) or _positive(revision.get("id"))
    if work_item_id is None:
        raise InvalidInput("resource.workItemId (or resource.revision.id) must name the work item: a positive integer")
    rev = _positive(revision.get("rev")) or _positive(resource.get("rev"))
    if rev is None:
        raise InvalidInput("resource.rev (or resource.revision.rev) must be the revision number: a positive integer")
    state, previous = _state_change(fields.get("System.State"))
    changed_at = _instant(_new(fields.get("System.ChangedDate")) or revised.get("System.ChangedDate"))
    changed_at = changed_at or _instant(document.get("createdDate"))
    if changed_at is None:
        raise InvalidInput("the event has no time: resource.fields System.ChangedDate or createdDate")
    who = _new(fields.get("System.ChangedBy")) or revised.get("System.ChangedBy") or resource.get("revisedBy")
    return WorkItemUpdate(work_item_id, rev, state, previous, _person(who), changed_at)


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be an object, got {_shown(value)}")
    return value


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31 else None


def _state_change(change: Any) -> tuple[str | None, str | None]:
    if change is None:
        return None, None
    if not isinstance(change, dict):
        raise InvalidInput(f"resource.fields System.State must be {{oldValue, newValue}}, got {_shown(change)}")
    new, old = change.get("newValue"), change.get("oldValue")
    for value, name in ((new, "newValue"), (old, "oldValue")):
        if value is not None and (not isinstance(value, str) or len(value) > MAX_STATE):
            raise InvalidInput(f"resource.fields System.State {name} must be a state name, got {_shown(value)}")
    return (clean(new).strip() or None if new else None), (clean(old).strip() or None if old else None)


def _new(change: Any) -> Any:
    return change.get("newValue") if isinstance(change, dict) else None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_instant(value)
    except (ValueError, OverflowError):  # "0001-01-01T00:00:00" (the sample's revisedDate), 9999 shifted to UTC
        return None


def _person(value: Any) -> str:
    """A display name from an identity: an IdentityRef object, or "Name <email>" as service hooks send strings."""
    if isinstance(value, dict):
        value = value.get("displayName") or value.get("uniqueName")
    if not isinstance(value, str):
        return ""
    return _EMAIL_SUFFIX.sub("", " ".join(clean(value).split()))[:MAX_NAME]


def _shown(value: Any) -> str:
    return repr(value)[:60] if value is not None else "nothing"
