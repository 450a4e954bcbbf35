"""Graph change notifications for channel messages: the validation handshake, and which notifications to believe.

Graph validates a subscription's notification URL by POSTing to it with `?validationToken=…`; the endpoint must
answer 200 with the token, unchanged, as text/plain within 10 seconds. Each later POST carries `{"value": [...]}`
notifications, each with the `clientState` the subscription was made with: anyone can POST to the URL, so a
notification whose clientState is not Firebell's secret (compared in constant time) is forged, and one whose
subscription has already expired is stale. Either refuses the whole request, and nothing changes.
A believed notification only says "this channel has a new or changed message": the caller reads the channel
through Graph (with its own token) rather than trusting what the notification says the message is.
Pure.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.core.errors import InvalidInput, Unauthorized
from shared.core.timeutil import parse_instant

MAX_TOKEN = 1024
_CHANNEL = re.compile(r"channels\('([^']+)'\)", re.IGNORECASE)


@dataclass(frozen=True)
class Notified:
    subscription_id: str
    channel_id: str


def validation_token(value: str | None) -> str | None:
    """The token to echo, when this request is Graph's validation handshake."""
    if value is None:
        return None
    if not value or len(value) > MAX_TOKEN:
        raise InvalidInput("validationToken must be 1 to 1024 characters")
    return value


def believed(document: Any, client_state: str, now: datetime) -> list[Notified]:
    """The channels the notifications name; Unauthorized when any is forged or stale, InvalidInput when unreadable."""
    if not client_state:
        raise Unauthorized("change notifications are not configured (GRAPH_CLIENT_STATE is not set)")
    items = document.get("value") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        raise InvalidInput('a change notification body is {"value": [notification, …]}')
    found: list[Notified] = []
    for item in items:
        said = item.get("clientState")
        if not isinstance(said, str) or not hmac.compare_digest(said.encode(), client_state.encode()):
            raise Unauthorized("a notification's clientState is not Firebell's")
        expires = item.get("subscriptionExpirationDateTime")
        try:
            until = parse_instant(expires) if isinstance(expires, str) else None
        except ValueError:
            until = None
        if until is None or until <= now:
            raise Unauthorized("a notification's subscription has expired (stale)")
        resource, subscription = item.get("resource"), item.get("subscriptionId")
        match = _CHANNEL.search(resource) if isinstance(resource, str) else None
        if match is None or not isinstance(subscription, str):
            raise InvalidInput("a notification names no channel message resource")
        found.append(Notified(subscription, match.group(1)))
    return found
