"""`make demo`: drive one incident through a running Firebell (`make run` in another terminal) and show each part.

Alert → incident → Teams commands (signed as a Teams outgoing webhook signs them) → public update on the status
page → resolution → the incident's timeline → the blameless review: started in Teams, its draft read back, the
incident closed through the API. Settings come from local.settings.json, like the devhost's.
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
from datetime import UTC, datetime, timedelta
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

    def review_draft(self, incident: str, timeout: float = 30.0) -> str | None:
        """The review draft once the `postmortems` function has written it (Markdown), else None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.http.get(
                f"{self.base}/api/incidents/{incident}/postmortem", params={"code": self.key}, timeout=10
            )
            if answer.status_code == 200:
                return answer.text
            time.sleep(0.5)
        return None

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
    # The sample alert, fired twelve minutes ago: the review's durations and cost are then this incident's own.
    document = json.loads(ALERT.read_bytes())
    fired = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=12)
    document["data"]["essentials"]["firedDateTime"] = fired.isoformat().replace("+00:00", "Z")
    alert = json.dumps(document).encode()
    opened = demo.api("POST", "alerts", data=alert, headers={"Content-Type": "application/json"}).json()
    incident = opened["incident"]
    print(f"{next(step)}. Azure Monitor alert → {incident} ({opened['outcome']})")
    again = demo.api("POST", "alerts", data=alert, headers={"Content-Type": "application/json"}).json()
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
    if token:
        review(demo, incident, step)
    print(f"\nStatus page: {demo.base}/status/   Incident: {demo.base}/api/incidents/{incident}?code={demo.key}")
    return 0


def review(demo: Demo, incident: str, step: Any) -> None:
    """The blameless review: started in Teams with a facilitator from outside the response, drafted from the
    timeline by the `postmortems` function, then the incident closed through the API."""
    command = f"postmortem {incident} Grace Okafor"
    print(f"{next(step)}. Tim Jones in Teams: @firebell {command}\n   → {demo.say(command, 'Tim Jones')}")
    draft = demo.review_draft(incident)
    if draft is None:
        print(f"{next(step)}. The review draft did not appear within 30 s (is the devhost's background running?)")
        return
    figures = [line for line in draft.splitlines() if line.startswith(("| Time to ", "| Severity", "| Facilitator"))]
    cost = next((line for line in draft.splitlines() if "outage minutes" in line), "")
    print(f"{next(step)}. Review draft written to the private container: postmortems/{incident}/review.md (and .html)")
    for line in [*figures, cost]:
        print(f"   {line}")
    closed = demo.api("POST", f"incidents/{incident}/close", json={"by": "Tim Jones"}).json()
    print(f"{next(step)}. POST /api/incidents/{incident}/close → {closed['status']}")
    print(
        f"   Read the draft: {demo.base}/api/incidents/{incident}/postmortem?code={demo.key} "
        "(Markdown; Accept: text/html for the page); people write their notes below its notes marker"
    )


if __name__ == "__main__":
    sys.exit(main())
