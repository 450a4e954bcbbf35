"""Deliveries from Event Grid to `POST /api/acs/events`: who may deliver, the subscription validation handshake, and
the Communication Services events Firebell acts on. Pure.

Event Grid's webhook delivery (Event Grid schema) posts a JSON array of events. Creating the subscription sends one
`Microsoft.EventGrid.SubscriptionValidationEvent`; answering `{"validationResponse": <validationCode>}` proves the
endpoint is ours. Event Grid authenticates itself to a webhook by what the subscription's URL carries (a secret
query parameter, the documented "query parameter" option) or by an Entra ID token; Firebell accepts either, both
checked before the body is read: the secret (`?secret=`, ACS_EVENTS_SECRET) compared in constant time, or — with
ACS_EVENTS_ENTRA_TENANT_ID and ACS_EVENTS_ENTRA_AUDIENCE set — the `Authorization: Bearer` token Event Grid gets for
the subscription's Entra app, verified like the alert webhook's (shared.azure_monitor.secure_webhook: signature by the
tenant's published keys, issuer, audience, lifetime), holding the AzureEventGridSecureWebhookSubscriber app role, and
issued to Event Grid itself: an app-only token (no `scp`, `idtyp` "app" when present) whose `appid` (v1) or `azp`
(v2) is Event Grid's first-party app id. The role alone is not enough: whoever creates the subscription may hold it
too, and could otherwise forge events.
A delivery with neither is refused (401) and nothing is stored.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.core.errors import ConfigurationError, InvalidInput, Unauthorized
from shared.core.timeutil import parse_instant

VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
SMS_RECEIVED = "Microsoft.Communication.SMSReceived"
SMS_DELIVERY_REPORT = "Microsoft.Communication.SMSDeliveryReportReceived"
MAX_EVENTS = 100
# The app role Event Grid's documented set-up script creates on the webhook's Entra app and assigns to Event Grid.
EVENT_GRID_ROLE = "AzureEventGridSecureWebhookSubscriber"
ENTRA_TENANT_SETTING = "ACS_EVENTS_ENTRA_TENANT_ID"
ENTRA_AUDIENCE_SETTING = "ACS_EVENTS_ENTRA_AUDIENCE"  # the subscription's Entra app: application id URI
ENTRA_CLIENT_ID_SETTING = "ACS_EVENTS_ENTRA_CLIENT_ID"  # … or its client id (v2 tokens)
ENTRA_JWKS_URL_SETTING = "ACS_EVENTS_ENTRA_JWKS_URL"  # default: the tenant's published keys
# The "Azure Event Grid" first-party app (Microsoft.EventGrid's service principal in every tenant), as Event Grid's
# secure-webhook set-up script names it; a setting for clouds where it differs.
EVENT_GRID_APP_ID = "4962773b-9cdb-44cf-a8bf-237846a00ab7"
ENTRA_PUBLISHER_SETTING = "ACS_EVENTS_ENTRA_PUBLISHER_APP_ID"


@dataclass(frozen=True)
class SmsReceived:
    message_id: str
    sender: str  # E.164
    to: str
    text: str
    received: datetime


@dataclass(frozen=True)
class DeliveryReport:
    message_id: str
    to: str
    status: str  # "Delivered", "Failed", …
    details: str
    received: datetime


def entra_policy(environ: Any) -> Any | None:
    """Entra ID for deliveries, None when off; ConfigurationError when half set."""
    from shared.azure_monitor.secure_webhook import EntraSettings, SecureWebhookPolicy

    names = EntraSettings(
        ENTRA_TENANT_SETTING,
        ENTRA_AUDIENCE_SETTING,
        ENTRA_CLIENT_ID_SETTING,
        ENTRA_JWKS_URL_SETTING,
        "Event Grid Entra ID delivery",
    )
    return SecureWebhookPolicy.from_environment(environ, names)


def publisher_app_id(environ: Any) -> str:
    return (environ.get(ENTRA_PUBLISHER_SETTING) or "").strip().lower() or EVENT_GRID_APP_ID


def authenticate_delivery(
    given: str | None,
    authorization: str | None,
    secret: str,
    policy: Any | None,
    signing_key_for: Callable[[str], Any] | None,
    now: datetime,
    publisher: str = EVENT_GRID_APP_ID,
) -> str:
    """Who delivered: "entra" (a verified bearer token) or "secret"; Unauthorized otherwise. A bearer token is
    checked whenever Entra ID is configured and the delivery carries one: a bad token is refused even beside a
    secret, for it is a forgery or a misconfiguration to be seen."""
    if policy is not None and authorization:
        from shared.azure_monitor.secure_webhook import verify_bearer

        if signing_key_for is None:
            raise ConfigurationError("Event Grid Entra ID delivery: no source of the tenant's signing keys")
        claims = verify_bearer(authorization, policy, signing_key_for, now, role=EVENT_GRID_ROLE)
        _require_event_grid(claims, publisher)
        return "entra"
    if policy is not None and not secret:
        raise Unauthorized("this delivery carries no Entra ID bearer token")
    authenticate(given, secret)
    return "secret"


def _require_event_grid(claims: dict[str, Any], publisher: str) -> None:
    if "scp" in claims or claims.get("idtyp", "app") != "app":
        raise Unauthorized("token is a delegated (user) token; Event Grid sends an app-only one")
    caller = claims.get("appid") if claims.get("ver") != "2.0" else claims.get("azp")
    if not isinstance(caller, str) or caller.lower() != publisher.lower():
        raise Unauthorized("token was not issued to Event Grid")


def authenticate(given: str | None, secret: str) -> None:
    if not secret:
        raise Unauthorized("Communication Services events are not configured (ACS_EVENTS_SECRET)")
    if not given or not hmac.compare_digest(given.encode(), secret.encode()):
        raise Unauthorized("this delivery does not carry the subscription's secret")


def events(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict):
        document = [document]  # a single event (some senders, and the portal's test) is not wrapped
    if not isinstance(document, list) or not 1 <= len(document) <= MAX_EVENTS:
        raise InvalidInput(f"expected a JSON array of 1–{MAX_EVENTS} Event Grid events")
    if not all(isinstance(event, dict) and isinstance(event.get("eventType"), str) for event in document):
        raise InvalidInput("every event needs an eventType")
    return document


def validation_code(batch: list[dict[str, Any]]) -> str | None:
    """The handshake's code when the delivery is the validation event, else None."""
    for event in batch:
        if event["eventType"] == VALIDATION:
            code = (event.get("data") or {}).get("validationCode")
            if not isinstance(code, str) or not code or len(code) > 200:
                raise InvalidInput("a validation event needs data.validationCode")
            return code
    return None


def sms_received(event: dict[str, Any]) -> SmsReceived:
    data = _data(event)
    return SmsReceived(
        _text(data, "messageId"),
        _text(data, "from"),
        _text(data, "to"),
        _text(data, "message", empty=True),
        _when(data, event),
    )


def delivery_report(event: dict[str, Any]) -> DeliveryReport:
    data = _data(event)
    return DeliveryReport(
        _text(data, "messageId"),
        _text(data, "to"),
        _text(data, "deliveryStatus"),
        str(data.get("deliveryStatusDetails") or "")[:200],
        _when(data, event),
    )


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    if not isinstance(data, dict):
        raise InvalidInput(f"{event['eventType']}: data must be an object")
    return data


def _text(data: dict[str, Any], key: str, *, empty: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str) or (not empty and not value.strip()) or len(value) > 2000:
        raise InvalidInput(f"event data.{key} must be a string")
    return value.strip()


def _when(data: dict[str, Any], event: dict[str, Any]) -> datetime:
    for value in (data.get("receivedTimestamp"), event.get("eventTime")):
        if isinstance(value, str):
            try:
                return parse_instant(value.replace("Z", "+00:00"))
            except ValueError:
                continue
    raise InvalidInput("event needs data.receivedTimestamp or eventTime (ISO 8601)")
