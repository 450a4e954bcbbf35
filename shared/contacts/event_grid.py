"""Deliveries from Event Grid to `POST /api/acs/events`: who may deliver, the subscription validation handshake, and
the Communication Services events Firebell acts on. Pure.

Event Grid's webhook delivery (Event Grid schema) posts a JSON array of events. Creating the subscription sends one
`Microsoft.EventGrid.SubscriptionValidationEvent`; answering `{"validationResponse": <validationCode>}` proves the
endpoint is ours. Event Grid authenticates itself to a webhook by what the subscription's URL carries (a secret
query parameter, the documented "query parameter" option) or by an Entra ID token; Firebell uses the secret
(`?secret=`, ACS_EVENTS_SECRET), compared in constant time before the body is read. A delivery without it is
refused (401) and nothing is stored.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.core.errors import InvalidInput, Unauthorized
from shared.core.timeutil import parse_instant

VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
SMS_RECEIVED = "Microsoft.Communication.SMSReceived"
SMS_DELIVERY_REPORT = "Microsoft.Communication.SMSDeliveryReportReceived"
MAX_EVENTS = 100


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
