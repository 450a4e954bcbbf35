"""A local HTTP server standing in for Azure Communication Services SMS, and the Event Grid deliveries it causes.

It speaks `POST /sms?api-version=2021-03-07` as documented ("Sms - Send", REST reference). The request must carry
the HMAC-SHA256 signature of the resource's access key (checked here independently of Firebell's signing code:
`x-ms-date` within 15 minutes, `x-ms-content-sha256` of the body, the signature over
"POST\\n/sms?api-version=…\\n<date>;<host>;<hash>"), or an Entra ID bearer token for Communication Services (a JWT
whose `aud` is https://communication.azure.com/ (the SDKs' audience), `iss` Entra's STS, now within `nbf`–`exp`:
the claims the service checks; the signature is not verified here, as Azurite's basic OAuth does not verify it
either). The body
needs a `from` number, 1–100 `smsRecipients` in E.164 and a `message`; it answers 202 with one
`SmsSendResponseItem` per recipient. A recipient repeating an earlier `repeatabilityRequestId` is not texted again
(`repeatabilityResult: rejected`). Tests script failures for the next requests (429 with Retry-After, 500, a
per-recipient 400) and read back every SMS that reached a phone.

The module also builds Event Grid deliveries in the Event Grid schema — the subscription validation event,
`Microsoft.Communication.SMSReceived` and `Microsoft.Communication.SMSDeliveryReportReceived` — with the data
fields the Event Grid system-event reference lists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import jwt
from werkzeug.wrappers import Request, Response

from tests.standins.entra_tokens import COMMUNICATION_AUDIENCE
from tests.standins.local_server import LocalServer

ACCESS_KEY = base64.b64encode(b"firebell-test-acs-access-key-32b").decode()
FROM_NUMBER = "+18005550100"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True)
class Sms:
    to: str
    message: str
    message_id: str
    tag: str
    repeatability: str
    arrived: float = 0.0  # time.monotonic() when its request arrived


@dataclass(frozen=True)
class CallRequest:
    """One Call Automation request: CreateCall, Recognize or hang up (DELETE), with its JSON body."""

    action: str  # "create" | "recognize" | "hangup"
    call_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Scripted:
    status: int
    retry_after: str | None = None
    recipient_status: int | None = None  # a 202 whose recipient item failed with this httpStatusCode


class AcsServer(LocalServer):
    def __init__(self, access_key: str = ACCESS_KEY) -> None:
        self._key = base64.b64decode(access_key)
        self._lock = threading.Lock()
        self._script: deque[Scripted] = deque()
        self._sms: list[Sms] = []
        self._statuses: list[int] = []
        self._by_repeatability: dict[str, str] = {}
        self._calls: list[CallRequest] = []
        self._arrival = threading.Condition(self._lock)
        self.bearer_subjects: list[str] = []  # the `oid` of each request's Entra ID token (empty: HMAC-signed)
        super().__init__(self._app, "acs-standin")

    @property
    def endpoint(self) -> str:
        return self.base

    def fail_next(self, status: int, retry_after: str | None = None, times: int = 1) -> None:
        with self._lock:
            self._script.extend(Scripted(status, retry_after) for _ in range(times))

    def refuse_recipient_next(self, status: int = 400) -> None:
        with self._lock:
            self._script.append(Scripted(202, recipient_status=status))

    def sms(self) -> list[Sms]:
        with self._lock:
            return list(self._sms)

    def calls(self) -> list[CallRequest]:
        with self._lock:
            return list(self._calls)

    def statuses(self) -> list[int]:
        with self._lock:
            return list(self._statuses)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Sms]:
        with self._arrival:
            if not self._arrival.wait_for(lambda: len(self._sms) >= count, timeout):
                raise AssertionError(f"{len(self._sms)} of {count} SMS within {timeout} s")
            return list(self._sms)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._answer(request)
        with self._arrival:
            self._statuses.append(response.status_code)
            self._arrival.notify_all()
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        arrived = time.monotonic()
        if request.path.startswith("/calling/callConnections"):
            return self._call_automation(request)
        if request.method != "POST" or request.path != "/sms":
            return _error(404, "NotFound", "no such operation")
        if request.args.get("api-version") != "2021-03-07":
            return _error(400, "InvalidApiVersion", "api-version 2021-03-07 expected")
        body = request.get_data()
        if not self._signed(request, body):
            return _error(401, "Denied", "Denied by the resource provider.")
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        if scripted is not None and scripted.status != 202:
            headers = {"Retry-After": scripted.retry_after} if scripted.retry_after else {}
            return Response(
                json.dumps(
                    {"error": {"code": "TooManyRequests" if scripted.status == 429 else "Error", "message": "scripted"}}
                ),
                status=scripted.status,
                headers=headers,
                content_type="application/json",
            )
        try:
            document = json.loads(body)
            recipients = document["smsRecipients"]
            assert isinstance(document["from"], str) and isinstance(document["message"], str)
            assert isinstance(recipients, list) and 1 <= len(recipients) <= 100
        except (ValueError, KeyError, TypeError, AssertionError):
            return _error(400, "BadRequest", "from, message and 1–100 smsRecipients are required")
        options = document.get("smsSendOptions") or {}
        items = []
        for recipient in recipients:
            to = recipient.get("to", "")
            repeatability = recipient.get("repeatabilityRequestId", "")
            if scripted is not None and scripted.recipient_status:
                items.append(
                    {
                        "to": to,
                        "httpStatusCode": scripted.recipient_status,
                        "successful": False,
                        "errorMessage": "Invalid To phone number format.",
                    }
                )
                continue
            if not E164.match(to):
                items.append(
                    {
                        "to": to,
                        "httpStatusCode": 400,
                        "successful": False,
                        "errorMessage": "Invalid To phone number format.",
                    }
                )
                continue
            with self._lock:
                earlier = self._by_repeatability.get(repeatability) if repeatability else None
            if earlier is not None:
                items.append(
                    {
                        "to": to,
                        "messageId": earlier,
                        "httpStatusCode": 202,
                        "repeatabilityResult": "rejected",
                        "successful": False,
                    }
                )
                continue
            message_id = f"Outgoing_{datetime.now(UTC):%Y%m%d%H%M%S}{uuid.uuid4()}_noam"
            with self._lock:
                if repeatability:
                    self._by_repeatability[repeatability] = message_id
                self._sms.append(
                    Sms(to, document["message"], message_id, options.get("tag", ""), repeatability, arrived)
                )
            items.append(
                {
                    "to": to,
                    "messageId": message_id,
                    "httpStatusCode": 202,
                    **({"repeatabilityResult": "accepted"} if repeatability else {}),
                    "successful": True,
                }
            )
        return Response(json.dumps({"value": items}), status=202, content_type="application/json")

    def _call_automation(self, request: Request) -> Response:
        """CreateCall (201 with a callConnectionId), Recognize (202) and hang up (204), api-version 2023-10-15."""
        if request.args.get("api-version") != "2023-10-15":
            return _error(400, "InvalidApiVersion", "api-version 2023-10-15 expected")
        body = request.get_data()
        if not self._signed(request, body):
            return _error(401, "Denied", "Denied by the resource provider.")
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            headers = {"Retry-After": scripted.retry_after} if scripted.retry_after else {}
            return Response(
                json.dumps({"error": {"code": "Error", "message": "scripted"}}),
                status=scripted.status,
                headers=headers,
                content_type="application/json",
            )
        document = json.loads(body) if body else {}
        path = request.path.removeprefix("/calling/callConnections")
        if request.method == "POST" and path == "":
            try:
                (target,) = document["targets"]
                assert E164.match(target["phoneNumber"]["value"]) and target["kind"] == "phoneNumber"
                assert E164.match(document["sourceCallerIdNumber"]["value"])
                assert document["callbackUri"].startswith("https://")
            except (KeyError, TypeError, ValueError, AssertionError):
                return _error(400, "BadRequest", "targets, sourceCallerIdNumber and an https callbackUri are required")
            call_id = str(uuid.uuid4())
            with self._lock:
                self._calls.append(CallRequest("create", call_id, document))
            answer = {
                "callConnectionId": call_id,
                "serverCallId": base64.b64encode(call_id.encode()).decode(),
                "targets": document["targets"],
                "callConnectionState": "connecting",
                "callbackUri": document["callbackUri"],
                "sourceCallerIdNumber": document["sourceCallerIdNumber"],
            }
            return Response(json.dumps(answer), status=201, content_type="application/json")
        matched = re.fullmatch(r"/([0-9a-f-]{36})(:recognize)?", path)
        known = {call.call_id for call in self.calls()}
        if matched is None or matched[1] not in known:
            return _error(404, "NotFound", "Call not found.")
        if request.method == "POST" and matched[2]:
            if document.get("recognizeInputType") != "dtmf" or "playPrompt" not in document:
                return _error(400, "BadRequest", "recognizeInputType dtmf and a playPrompt expected")
            with self._lock:
                self._calls.append(CallRequest("recognize", matched[1], document))
            return Response("", status=202)
        if request.method == "DELETE" and not matched[2]:
            with self._lock:
                self._calls.append(CallRequest("hangup", matched[1], {}))
            return Response("", status=204)
        return _error(405, "MethodNotAllowed", "not allowed")

    def _signed(self, request: Request, body: bytes) -> bool:
        """An Entra ID token for Communication Services, or the access key's HMAC signature."""
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            return self._bearer(authorization[7:])
        date = request.headers.get("x-ms-date", "")
        content = request.headers.get("x-ms-content-sha256", "")
        try:
            sent = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return False
        if abs((datetime.now(UTC) - sent).total_seconds()) > 15 * 60:
            return False
        if content != base64.b64encode(hashlib.sha256(body).digest()).decode():
            return False
        path = request.full_path.rstrip("?")
        to_sign = f"{request.method}\n{path}\n{date};{request.host};{content}"
        signature = base64.b64encode(hmac.new(self._key, to_sign.encode(), hashlib.sha256).digest()).decode()
        expected = f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
        return hmac.compare_digest(authorization, expected)

    def _bearer(self, token: str) -> bool:
        try:
            claims = jwt.decode(
                token,
                options={
                    "verify_signature": False,  # without it PyJWT checks nothing else unless told to: told here
                    "verify_aud": True,
                    "verify_exp": True,
                    "verify_nbf": True,
                    "require": ["aud", "iss", "exp", "nbf"],
                },
                audience=COMMUNICATION_AUDIENCE,
            )
        except jwt.PyJWTError:
            return False
        if not str(claims["iss"]).startswith("https://sts.windows.net/"):
            return False
        with self._lock:
            self.bearer_subjects.append(str(claims.get("oid", "")))
        return True


def _error(status: int, code: str, message: str) -> Response:
    return Response(
        json.dumps({"error": {"code": code, "message": message}}), status=status, content_type="application/json"
    )


# --- Event Grid deliveries (Event Grid schema) ------------------------------------------------------------------------
TOPIC = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-firebell/providers/"
    "Microsoft.Communication/communicationServices/acs-firebell"
)


def _event(event_type: str, subject: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "topic": TOPIC,
        "subject": subject,
        "data": data,
        "eventType": event_type,
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": at.isoformat().replace("+00:00", "Z"),
    }


def validation_event(code: str, at: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "topic": TOPIC,
        "subject": "",
        "data": {
            "validationCode": code,
            "validationUrl": f"https://rp-eastus2.eventgrid.azure.net/validate?code={code}",
        },
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": at.isoformat().replace("+00:00", "Z"),
        "metadataVersion": "1",
        "dataVersion": "2",
    }


def sms_received(sender: str, text: str, at: datetime, to: str = FROM_NUMBER) -> dict[str, Any]:
    message_id = f"Incoming_{at:%Y%m%d%H%M%S}{uuid.uuid4()}"
    data = {
        "messageId": message_id,
        "from": sender,
        "to": to,
        "message": text,
        "receivedTimestamp": at.isoformat().replace("+00:00", "Z"),
    }
    return _event("Microsoft.Communication.SMSReceived", f"/phonenumber/{to.lstrip('+')}", data, at)


def delivery_report(message_id: str, to: str, at: datetime, status: str = "Delivered") -> dict[str, Any]:
    data = {
        "messageId": message_id,
        "from": FROM_NUMBER,
        "to": to,
        "deliveryStatus": status,
        "deliveryStatusDetails": "No error." if status == "Delivered" else "Carrier rejected the message.",
        "deliveryAttempts": [
            {"timestamp": at.isoformat().replace("+00:00", "Z"), "segmentsSucceeded": 1, "segmentsFailed": 0}
        ],
        "receivedTimestamp": at.isoformat().replace("+00:00", "Z"),
        "tag": "firebell",
    }
    return _event(
        "Microsoft.Communication.SMSDeliveryReportReceived", f"/phonenumber/{FROM_NUMBER.lstrip('+')}", data, at
    )


# --- Call Automation callback events (CloudEvents, as posted to the callbackUri) -------------------------------------
def _call_event(event_type: str, call_id: str, context: str, at: datetime, **data: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "source": f"calling/callConnections/{call_id}",
        "type": event_type,
        "data": {
            "version": "2023-10-15",
            "callConnectionId": call_id,
            "serverCallId": base64.b64encode(call_id.encode()).decode(),
            "correlationId": str(uuid.uuid4()),
            "operationContext": context,
            "publicEventType": event_type,
            **data,
        },
        "time": at.isoformat().replace("+00:00", "Z"),
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "subject": f"calling/callConnections/{call_id}",
    }


def call_connected(call_id: str, context: str, at: datetime) -> dict[str, Any]:
    return _call_event("Microsoft.Communication.CallConnected", call_id, context, at)


def recognize_completed(call_id: str, tone: str, at: datetime, context: str = "") -> dict[str, Any]:
    return _call_event(
        "Microsoft.Communication.RecognizeCompleted",
        call_id,
        context,
        at,
        recognitionType="dtmf",
        dtmfResult={"tones": [tone]},
        resultInformation={"code": 200, "subCode": 8514, "message": "Action completed, max digits received."},
    )
