"""Sending an SMS through Azure Communication Services: `POST {endpoint}/sms?api-version=2021-03-07`, signed with
the resource's access key or carrying the managed identity's Entra ID token (shared.contacts.acs_auth).

REST over requests rather than the azure-communication-sms SDK: measured cold import 150 ms for the SDK against
80 ms for requests, which the Workflows sender already loads (docs/oncall.md); the request is one small JSON body.
Both load on the first SMS only, never on another function's cold start.

Each recipient carries a `repeatabilityRequestId` derived from the contact step and the first attempt's time
(`repeatabilityFirstSent`): a retry after a lost answer is recognised by the service as the same request, so a
redelivered step does not text twice (with the ledger, shared.contacts.ledger, on our side).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from shared.contacts.acs_auth import acs_auth
from shared.contacts.errors import ContactRejected, ContactUnavailable
from shared.core.http_client import ThreadSessions, retry_after_seconds

if TYPE_CHECKING:
    import requests

log = logging.getLogger("firebell.contacts")

API_VERSION = "2021-03-07"
TIMEOUT = (3.05, 10)  # connect, read


class SmsSender:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        from_number: str,
        *,
        identity_client_id: str = "",
        session: requests.Session | None = None,
    ) -> None:
        """No `access_key`: the managed identity's token (user-assigned when `identity_client_id` names one)."""
        self.endpoint = endpoint.rstrip("/")
        self._auth = acs_auth(access_key, identity_client_id)
        self.from_number = from_number
        self._sessions = ThreadSessions(session)

    def _client(self) -> requests.Session:
        return self._sessions.get()

    def send(self, to: str, text: str, repeatability: str, first_sent: datetime, tag: str) -> str:
        """Send one SMS; returns the service's message id (the delivery report names it). Raises ContactRejected
        or ContactUnavailable."""
        import requests

        url = f"{self.endpoint}/sms?api-version={API_VERSION}"
        recipient = {
            "to": to,
            "repeatabilityRequestId": str(uuid.uuid5(uuid.NAMESPACE_URL, repeatability)),
            "repeatabilityFirstSent": format_datetime(first_sent, usegmt=True),
        }
        body = json.dumps(
            {
                "from": self.from_number,
                "smsRecipients": [recipient],
                "message": text,  # shortened by shared.contacts.ladder.sms_text, never here (a cut link fails)
                "smsSendOptions": {"enableDeliveryReport": True, "tag": tag},
            }
        ).encode()
        headers = self._auth.headers("POST", url, body)
        headers["Content-Type"] = "application/json"
        try:
            answer = self._client().post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as error:
            raise ContactUnavailable(f"{type(error).__name__} reaching Communication Services") from None
        return _message_id(answer)


def _message_id(answer: Any) -> str:
    status = answer.status_code
    problem = f"HTTP {status} from Communication Services SMS"
    if status == 429 or status >= 500 or status in (408, 409):
        raise ContactUnavailable(problem, retry_after_seconds(answer.headers.get("Retry-After")))
    if status not in (200, 202):
        raise ContactRejected(f"{problem}: {_reason(answer)}")
    try:
        (item,) = answer.json()["value"]
    except (ValueError, KeyError, TypeError):
        raise ContactUnavailable(f"{problem} with an unreadable body") from None
    if item.get("successful"):
        return str(item.get("messageId") or "")
    if str(item.get("repeatabilityResult", "")).lower() == "rejected":
        return ""  # the service had this very request already: it went out then
    code = item.get("httpStatusCode")
    detail = f"SMS to the recipient refused with {code}: {str(item.get('errorMessage') or '')[:160]}"
    if code == 429 or (isinstance(code, int) and code >= 500):
        raise ContactUnavailable(detail)
    raise ContactRejected(detail)


def _reason(answer: Any) -> str:
    try:
        error = answer.json().get("error", {})
        return f"{error.get('code', '')} {error.get('message', '')}".strip()[:160] or "no reason given"
    except (ValueError, AttributeError):
        return (answer.text or "no reason given").strip()[:160]
