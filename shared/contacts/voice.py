"""Calling a paged person through Azure Communication Services Call Automation (REST, api-version 2023-10-15),
authenticated like the SMS request (shared.contacts.acs_auth: the access key, or the managed identity's token).

CreateCall (`POST {endpoint}/calling/callConnections`) rings the person's phone from the resource's number with a
callback URL; Call Automation then posts the call's events there (`POST /api/acs/calls`, shared.contacts.calls).
When the call connects, Recognize (`POST …/callConnections/{id}:recognize`) speaks the incident with text-to-speech
(the resource's connected Azure AI services, `ACS_COGNITIVE_SERVICES_ENDPOINT`) and collects one DTMF tone:
1 acknowledges, 2 escalates. Hang up is `DELETE …/callConnections/{id}`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from shared.contacts.acs_auth import acs_auth
from shared.contacts.errors import ContactRejected, ContactUnavailable
from shared.core.http_client import ThreadSessions, retry_after_seconds

if TYPE_CHECKING:
    import requests

API_VERSION = "2023-10-15"
TIMEOUT = (3.05, 10)
VOICE = "en-US-JennyNeural"


def phone_identifier(number: str) -> dict[str, Any]:
    return {"kind": "phoneNumber", "rawId": f"4:{number}", "phoneNumber": {"value": number}}


class CallPlacer:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        from_number: str,
        cognitive_endpoint: str = "",
        *,
        identity_client_id: str = "",
        session: Any = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._auth = acs_auth(access_key, identity_client_id)
        self.from_number = from_number
        self.cognitive_endpoint = cognitive_endpoint
        self._sessions = ThreadSessions(session)

    def _client(self) -> requests.Session:
        return self._sessions.get()

    def create_call(self, to: str, callback_url: str, context: str) -> str:
        """Ring `to`; returns the call connection id its callback events name."""
        body: dict[str, Any] = {
            "targets": [phone_identifier(to)],
            "sourceCallerIdNumber": {"value": self.from_number},
            "callbackUri": callback_url,
            "operationContext": context,
        }
        if self.cognitive_endpoint:
            body["callIntelligenceOptions"] = {"cognitiveServicesEndpoint": self.cognitive_endpoint}
        answer = self._request("POST", "/calling/callConnections", body)
        try:
            return str(answer.json()["callConnectionId"])
        except (ValueError, KeyError, TypeError):
            raise ContactUnavailable("CreateCall answered without a callConnectionId") from None

    def ask(self, call_id: str, to: str, text: str, context: str) -> None:
        """Speak `text` and collect one keypress."""
        body = {
            "recognizeInputType": "dtmf",
            "playPrompt": {"kind": "text", "text": {"text": text, "voiceName": VOICE}},
            "interruptCallMediaOperation": True,
            "recognizeOptions": {
                "interruptPrompt": True,
                "initialSilenceTimeoutInSeconds": 15,
                "targetParticipant": phone_identifier(to),
                "dtmfOptions": {"maxTonesToCollect": 1, "interToneTimeoutInSeconds": 5},
            },
            "operationContext": context,
        }
        self._request("POST", f"/calling/callConnections/{call_id}:recognize", body)

    def hang_up(self, call_id: str) -> None:
        self._request("DELETE", f"/calling/callConnections/{call_id}", None)

    def _request(self, method: str, path: str, document: dict[str, Any] | None) -> Any:
        import requests

        url = f"{self.endpoint}{path}?api-version={API_VERSION}"
        body = json.dumps(document).encode() if document is not None else b""
        headers = self._auth.headers(method, url, body)
        headers["Content-Type"] = "application/json"
        try:
            answer = self._client().request(
                method, url, data=body or None, headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
        except requests.RequestException as error:
            raise ContactUnavailable(f"{type(error).__name__} reaching Call Automation") from None
        status = answer.status_code
        if 200 <= status < 300:
            return answer
        problem = f"HTTP {status} from Call Automation ({path.rsplit(':', 1)[-1] if ':' in path else method})"
        if status == 429 or status >= 500 or status == 408:
            raise ContactUnavailable(problem, retry_after_seconds(answer.headers.get("Retry-After")))
        raise ContactRejected(f"{problem}: {(answer.text or '')[:160]}")
