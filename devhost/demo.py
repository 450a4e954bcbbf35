"""`make demo`: drive one incident through a running Firebell (`make run` in another terminal) and show each part.

Alert → incident → Teams commands (signed as a Teams outgoing webhook signs them) → public update on the status
page → resolution → the incident's timeline. Settings come from local.settings.json, like the devhost's.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from devhost.azurite import ROOT
from devhost.settings import load_local_settings
from shared.oncall.people import Directory, load_directory

ALERT = ROOT / "samples" / "azure-monitor" / "59_test_action_metric_static_threshold.json"
PUBLIC_WORDS = "Card payments are failing for some customers; we are rolling back a change. Next update in 30 min"


def teams_sender(name: str, people: Directory) -> dict[str, str]:
    """`from` as Teams sends it for a person in people.toml: their listed ids, which are how Firebell knows them (a
    display name alone makes a guest of anyone listed with an id)."""
    person = next((p for p in people.people if p.name == name), None)
    sender = {"id": (person.teams_id if person else None) or f"29:{name}", "name": name}
    if person and person.aad_object_id:
        sender["aadObjectId"] = person.aad_object_id
    return sender


class Demo:
    def __init__(self, base: str, key: str, token: str, people: Directory | None = None) -> None:
        self.base, self.key, self.token = base.rstrip("/"), key, token
        self.people = people or Directory()
        self.http = requests.Session()

    def api(self, method: str, route: str, **options: Any) -> requests.Response:
        answer = self.http.request(method, f"{self.base}/api/{route}", params={"code": self.key}, timeout=10, **options)
        if answer.status_code >= 400:
            raise SystemExit(f"demo: {method} /api/{route} → {answer.status_code} {answer.text[:300]}")
        return answer

    def say(self, text: str, speaker: str) -> str:
        """A message to @Firebell in a Teams channel, signed with the outgoing webhook's security token."""
        body = json.dumps(
            {
                "type": "message",
                "id": uuid.uuid4().hex,
                "timestamp": datetime.now(UTC).isoformat(),
                "text": f"<at>Firebell</at> {text}",
                "from": teams_sender(speaker, self.people),
                "conversation": {"id": "19:demo-channel"},
            }
        ).encode()
        digest = hmac.new(base64.b64decode(self.token), body, hashlib.sha256).digest()
        signature = f"HMAC {base64.b64encode(digest).decode()}"
        answer = self.http.post(f"{self.base}/api/teams", data=body, headers={"Authorization": signature}, timeout=10)
        if answer.status_code != 200:
            raise SystemExit(f"demo: Teams command {text!r} → {answer.status_code} {answer.text[:300]}")
        reply = answer.json()
        return str(reply.get("text") or "(card)")

    def status_page_shows(self, path: str, words: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = self.http.get(f"{self.base}/status/{path}", timeout=10)
            if page.status_code == 200 and words in page.text:
                return True
            time.sleep(0.5)
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost.demo", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:7071")
    parser.add_argument("--settings", type=Path, default=ROOT / "local.settings.json")
    arguments = parser.parse_args(argv)
    load_local_settings(arguments.settings)
    import os

    token = os.environ.get("TEAMS_OUTGOING_WEBHOOK_TOKEN", "")
    people = load_directory(Path(os.environ.get("FIREBELL_CONFIG_DIR") or ROOT / "config"))
    demo = Demo(arguments.url, os.environ.get("FIREBELL_FUNCTION_KEY", ""), token, people)
    try:
        demo.http.get(f"{demo.base}/api/health", timeout=5)
    except requests.ConnectionError:
        print(f"demo: nothing answers on {demo.base}; start Firebell with `make run` first", file=sys.stderr)
        return 2

    step = iter(range(1, 100))
    opened = demo.api("POST", "alerts", data=ALERT.read_bytes(), headers={"Content-Type": "application/json"}).json()
    incident = opened["incident"]
    print(f"{next(step)}. Azure Monitor alert → {incident} ({opened['outcome']})")
    again = demo.api("POST", "alerts", data=ALERT.read_bytes(), headers={"Content-Type": "application/json"}).json()
    print(f"{next(step)}. The same alert again → deduplicated: {again['deduplicated']}")
    if not token:
        print("   TEAMS_OUTGOING_WEBHOOK_TOKEN is empty in local.settings.json: skipping the Teams part.")
    else:
        for speaker, command in [
            ("Tim Jones", f"ack {incident}"),
            ("Tim Jones", f"role {incident} commander Tim Jones"),
            ("Tim Jones", f"role {incident} comms Larry Brown"),
            ("Larry Brown", f"update {incident} identified {PUBLIC_WORDS}"),
            ("Larry Brown", f"component {incident} partial Checkout"),
            ("Tim Jones", f"note {incident} rolled back release 2026.12.1"),
            ("Tim Jones", f"action {incident} alert on card-decline rate, not only CPU owner: Priya Raman due: in 7d"),
            ("Tim Jones", f"resolve {incident} rollback complete, error rate normal"),
        ]:
            print(f"{next(step)}. {speaker} in Teams: @firebell {command}\n   → {demo.say(command, speaker)}")
        # The public page is named by the incident's opaque public id (STATUS_PAGE_ID_KEY), never by INC-n.
        from shared.core.settings import Settings
        from shared.statuspage.public_ids import public_id

        page = f"incidents/{public_id(incident, Settings.from_environment().status_page_id_key.encode())}.html"
        shown = demo.status_page_shows(page, "rolling back a change")
        print(f"{next(step)}. Status page {page} shows the public update: {shown}")
    summary = demo.http.get(f"{demo.base}/status/api/v2/summary.json", timeout=10)
    if summary.status_code == 200:
        print(f"{next(step)}. Statuspage API: {summary.json()['status']['description']}")
    document = demo.api("GET", f"incidents/{incident}").json()
    print(f"{next(step)}. {incident} timeline:")
    for event in document.get("timeline", []):
        print(f"   {event.get('at', '')}  {event.get('text', '')}")
    print(f"\nStatus page: {demo.base}/status/   Incident: {demo.base}/api/incidents/{incident}?code={demo.key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
