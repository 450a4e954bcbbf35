"""Post-incident reviews end to end, over real HTTP against Azurite: an alert opens the incident, responders work it
(ChatOps rules on the real store, at the moments the test chooses, so every figure is known), the review starts in
Teams and the incident closes through the API; the `postmortems` function writes the draft, which the API serves as
Markdown or HTML with every figure exact. Redeliveries and people's edits never give two drafts or lose a word, and
nothing of the review reaches `$web`.

The queue functions are called with real deliveries (`func.QueueMessage`) rather than from the devhost's pollers, so
the test decides when each consumer runs; the HTTP routes run in an in-process devhost over a socket.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import requests
from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError
from azure.functions.queue import QueueMessage

from functions import context
from functions import postmortems as postmortems_function
from shared.chatops import intake
from shared.chatops.grammar import parse_command
from shared.chatops.rules import Said
from shared.core import storage
from shared.core.timeutil import iso, utc_now
from shared.incidents.changes import change_message
from shared.postmortems.notes import NOTES_MARKER
from shared.postmortems.store import CONTAINER, DraftStore, blob_name
from tests.conftest import TEAMS_TOKEN, running_firebell, sample_json
from tests.integration.test_teams_chatops import say

KEY = "review-test-key"


@pytest.fixture
def api(storage_account, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    monkeypatch.setenv("TEAMS_OUTGOING_WEBHOOK_TOKEN", TEAMS_TOKEN)
    monkeypatch.setenv("WEBSITE_HOSTNAME", "firebell.example.net")
    monkeypatch.setenv("STATUS_PAGE_URL", "https://status.example.com/")
    context.reset()
    with running_firebell(background=False) as url:
        yield url


def call(method: str, url: str, **kwargs) -> requests.Response:
    headers = {"x-functions-key": KEY, **kwargs.pop("headers", {})}
    return requests.request(method, url, headers=headers, timeout=30, **kwargs)


def fire(api: str, fired: datetime) -> str:
    """A checkout alert (Sev1 → SEV2) that fired at `fired`, through POST /api/alerts; the incident it opened."""
    document = sample_json("59_test_action_metric_static_threshold.json")
    document["data"]["essentials"].update(
        alertId=f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid4().hex}",
        alertRule="checkout-errors",
        severity="Sev1",
        monitorCondition="Fired",
        alertTargetIDs=[],
        firedDateTime=iso(fired),
    )
    answer = call("POST", f"{api}/alerts", data=json.dumps(document))
    assert answer.status_code == 202, answer.text
    return answer.json()["incident"]


def chat(text: str, speaker: str, at: datetime) -> list[str]:
    """A Teams command decided by the real rules on the real store, at the moment `at`; the events it wrote."""
    said = Said(text=text, speaker=speaker, at=at, message_id=uuid.uuid4().hex)
    decision = intake.handle(parse_command(text), said, context.incident_store(), context.catalog(), "")
    assert decision.events and "refused" not in decision.events[0].text, decision.reply
    return [event.event_id for event in decision.events]


def deliver(incident: str, events: list[str], dequeue_count: int = 1) -> None:
    """One delivery of a change message to the `postmortems` function, as the host hands it over."""
    body = change_message(incident, events, ["status.changed"]).encode()
    postmortems_function.on_change(QueueMessage(id=uuid.uuid4().hex, body=body, dequeue_count=dequeue_count))


def blobs(container: str) -> dict[str, bytes]:
    client = storage.account().container(container)
    return {blob.name: client.download_blob(blob.name).readall() for blob in client.list_blobs()}


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def worked_incident(api: str) -> tuple[str, datetime]:
    """Alert at T0, responders at chosen moments until resolution at T0+80 min; returns (incident, T0)."""
    t0 = utc_now().replace(second=0, microsecond=0) - timedelta(hours=4)
    ident = fire(api, t0)
    minutes = lambda n: t0 + timedelta(minutes=n)  # noqa: E731
    chat(f"ack {ident}", "Priya Raman", minutes(5))
    chat(f"role {ident} commander Larry Brown", "Priya Raman", minutes(6))
    chat(f"page payments {ident}", "Priya Raman", minutes(7))
    chat(f"update {ident} investigating Card payments fail. Next update in 20 min", "Larry Brown", minutes(8))
    chat(f"update {ident} monitoring Payments succeed again. Next update in 30 min", "Larry Brown", minutes(45))
    chat(f"milestone {ident} started {iso(minutes(-10))}", "Larry Brown", minutes(79))
    chat(f"resolve {ident} rolled back build 4711", "Larry Brown", minutes(80))
    chat(f"action {ident} alert on the card processor's error rate", "Larry Brown", minutes(90))
    return ident, t0


def test_an_incident_goes_from_alert_to_closed_through_teams_and_the_api_and_its_draft_is_exact(api):
    ident, t0 = worked_incident(api)
    minutes = lambda n: t0 + timedelta(minutes=n)  # noqa: E731
    publisher = context.site_publisher()
    publisher.refresh()
    public_before = blobs("$web")
    assert any(name.startswith("incidents/") for name in public_before)

    # A SEV2 incident is not closed without its review; the refusal says why and stores nothing.
    length = len(call("GET", f"{api}/incidents/{ident}").json()["timeline"])
    refused = call("POST", f"{api}/incidents/{ident}/close", json={"by": "Larry Brown"})
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "refused_transition",
        "detail": f"{ident} is SEV2, which needs a post-incident review before it closes: start it with postmortem "
        f"{ident} <facilitator>",
    }
    document = call("GET", f"{api}/incidents/{ident}").json()
    assert (document["status"], len(document["timeline"])) == ("resolved", length)
    assert call("GET", f"{api}/incidents/{ident}/postmortem").status_code == 404

    started = say(f"{api}/teams", f"postmortem {ident} Nadia Visitor", "Larry Brown")
    assert (
        started["text"]
        == f"**{ident}**: post-incident review started, facilitated by Nadia Visitor. The draft is written shortly."
    )
    review_event = call("GET", f"{api}/incidents/{ident}").json()["timeline"][-1]
    deliver(ident, [review_event["id"]])
    deliver(ident, [review_event["id"]], dequeue_count=2)  # redelivered: the same draft, not a second one

    document = call("GET", f"{api}/incidents/{ident}").json()
    assert [event["at"] for event in document["timeline"]] == sorted(event["at"] for event in document["timeline"])
    declared = datetime.fromisoformat(document["declared_at"])
    answer = call("GET", f"{api}/incidents/{ident}/postmortem")
    assert (answer.status_code, answer.headers["Content-Type"]) == (200, "text/markdown; charset=utf-8")
    lines = answer.text.splitlines()
    for expected in (
        "| Severity | SEV2 |",
        "| Status | postmortem |",
        "| Service | checkout |",
        "| Components | Checkout |",
        "| Detection source | monitoring: Azure Monitor Platform alert rule 'checkout-errors' |",
        "| Facilitator | Nadia Visitor |",
        f"| Started | {when(minutes(-10))} (corrected) |",
        f"| Detected | {when(t0)} |",
        f"| Declared | {when(declared)} |",
        f"| Acknowledged | {when(minutes(5))} |",
        f"| Mitigated | {when(minutes(45))} |",
        f"| Resolved | {when(minutes(80))} |",
        "| Time to detect | 10 min 00 s |",
        "| Time to acknowledge | 5 min 00 s |",
        "| Time to mitigate | 55 min 00 s |",
        "| Time to resolve | 1 h 30 min 00 s |",
        "55.0 outage minutes × 250.00 per minute = **13,750.00**",  # checkout: 250 per outage minute
        "Silences longer than the review policy's gap: 2. Missed promises of a next public update: 2.",
        f"- ⚠ **Silence**: 37.0 min without any event ({when(minutes(8))} – {when(minutes(45))})",
        f"- ⚠ **Silence**: 34.0 min without any event ({when(minutes(45))} – {when(minutes(79))})",
        f"- Paged payments at {when(minutes(7))} (asked for by Priya Raman)",
        f"- Acknowledged by Priya Raman at {when(minutes(5))}",
        f"- {when(minutes(6))} · Incident commander: Larry Brown (by Priya Raman)",
        "- alert on the card processor's error rate · owner Larry Brown · due not set · no Boards item yet",
        NOTES_MARKER,
        "### Five whys",
    ):
        assert expected in lines, expected
    missed = [line.split(" ⚠ ")[1] for line in lines if " ⚠ **Missed promise**" in line]
    assert missed == [
        f"**Missed promise**: next update promised by {when(minutes(28))}, came {when(minutes(45))}",
        f"**Missed promise**: next update promised by {when(minutes(75))}, came {when(minutes(80))}",
    ]
    page = call("GET", f"{api}/incidents/{ident}/postmortem", headers={"Accept": "text/html"})
    assert (page.status_code, page.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert "<td>13,750.00</td>" not in page.text and "<strong>13,750.00</strong>" in page.text
    assert sorted(blobs(CONTAINER)) == [blob_name(ident, "html"), blob_name(ident, "md")]

    closed = call("POST", f"{api}/incidents/{ident}/close", json={"by": "Larry Brown"})
    assert (closed.status_code, closed.json()["status"]) == (200, "closed")
    deliver(ident, [call("GET", f"{api}/incidents/{ident}").json()["timeline"][-1]["id"]])
    assert "| Status | closed |" in call("GET", f"{api}/incidents/{ident}/postmortem").text.splitlines()

    # Never public: the resolved incident's public page and every other $web blob are as they were.
    publisher.refresh()
    public_after = blobs("$web")
    assert public_after == public_before
    for body in public_after.values():
        assert b"Nadia Visitor" not in body and b"post-incident review" not in body and b"firebell:" not in body


def test_a_redraft_keeps_what_people_wrote_and_identical_timelines_give_identical_bytes(api):
    ident, _ = worked_incident(api)
    events = chat(f"postmortem {ident} Nadia Visitor", "Larry Brown", utc_now())
    deliver(ident, events)
    drafts = DraftStore(storage.account())
    first = drafts.read(ident, "md")
    assert first is not None
    deliver(ident, events, dequeue_count=2)
    assert drafts.read(ident, "md") == first  # byte for byte

    # A person edits the notes (uploading the file as a tool would: without Firebell's metadata).
    edited = first + "\n- The retry storm came from the mobile app's backoff.\n"
    storage.account().container(CONTAINER).upload_blob(blob_name(ident, "md"), edited.encode(), overwrite=True)
    more = chat(f"action {ident} cap the mobile app's retries", "Priya Raman", utc_now())
    deliver(ident, more)
    redrafted = drafts.read(ident, "md")
    assert redrafted is not None and redrafted != edited
    assert redrafted.endswith("\n- The retry storm came from the mobile app's backoff.\n")
    assert "- cap the mobile app's retries · owner Priya Raman" in redrafted
    assert "The retry storm came from the mobile app&#39;s backoff." in (drafts.read(ident, "html") or "")


def test_concurrent_redrafts_and_edits_leave_one_draft_with_every_word(api):
    ident, _ = worked_incident(api)
    events = chat(f"postmortem {ident} Nadia Visitor", "Larry Brown", utc_now())
    deliver(ident, events)
    drafts = DraftStore(storage.account())
    base = drafts.read(ident, "md") or ""
    client = storage.account().container(CONTAINER).get_blob_client(blob_name(ident, "md"))

    def edit(n: int) -> None:
        for _ in range(40):  # a person saving while drafts are written: retried on their own ETag, as an editor does
            current = client.download_blob()
            text = current.readall().decode() + f"\n- note {n}\n"
            try:
                condition = {"etag": current.properties.etag, "match_condition": MatchConditions.IfNotModified}
                client.upload_blob(text.encode(), overwrite=True, **condition)
                return
            except ResourceModifiedError:
                continue
        raise AssertionError("the edit never landed")

    with ThreadPoolExecutor(max_workers=6) as pool:
        work = [pool.submit(deliver, ident, events, n + 1) for n in range(4)] + [pool.submit(edit, n) for n in range(2)]
        for future in work:
            future.result()
    deliver(ident, events, dequeue_count=9)
    final = drafts.read(ident, "md") or ""
    assert final.startswith(base.partition(NOTES_MARKER)[0])
    assert "\n- note 0\n" in final and "\n- note 1\n" in final
    assert sorted(blobs(CONTAINER)) == [blob_name(ident, "html"), blob_name(ident, "md")]


def test_starting_a_review_through_the_api_warns_about_a_facilitator_who_took_part_and_bad_input_stores_nothing(api):
    ident, _ = worked_incident(api)
    length = len(call("GET", f"{api}/incidents/{ident}").json()["timeline"])
    for body, status, detail in (
        ({"facilitator": "Nadia Visitor"}, 400, "by must be a non-empty string, got missing"),
        ({"by": "Larry Brown", "owner": "x"}, 400, "unknown field 'owner'; accepted fields: by, facilitator"),
        ({"by": "x" * 101}, 400, "by is 101 characters; the limit is 100"),
    ):
        answer = call("POST", f"{api}/incidents/{ident}/postmortem", json=body)
        assert (answer.status_code, answer.json()["detail"]) == (status, detail)
    assert call("POST", f"{api}/incidents/INC-99/postmortem", json={"by": "Larry Brown"}).status_code == 404
    assert call("POST", f"{api}/incidents/nope/close", json={"by": "Larry Brown"}).status_code == 400
    assert len(call("GET", f"{api}/incidents/{ident}").json()["timeline"]) == length

    answer = call("POST", f"{api}/incidents/{ident}/postmortem", json={"by": "Tim Jones", "facilitator": "Priya Raman"})
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["warning"]) == (
        "postmortem",
        "Priya Raman took part in the response (acknowledged, acted on the incident); a blameless review is best "
        "facilitated by someone who was not",
    )
    again = call("POST", f"{api}/incidents/{ident}/postmortem", json={"by": "Tim Jones"})
    assert (again.status_code, again.json()["detail"]) == (
        400,
        f"{ident} is postmortem; its review has started already",
    )
    assert len(call("GET", f"{api}/incidents/{ident}").json()["timeline"]) == length + 1


def test_a_sev2_incident_is_drafted_when_it_resolves_and_a_sev3_only_when_its_review_starts(api):
    drafts = DraftStore(storage.account())
    for severity, drafted_on_resolve in ((2, True), (3, False)):
        answer = call(
            "POST",
            f"{api}/incidents",
            json={"title": "Search is slow", "severity": severity, "reporter": "Ana Souza", "service": "checkout"},
        )
        ident = answer.json()["id"]
        resolved = chat(f"resolve {ident} fixed", "Larry Brown", utc_now())
        deliver(ident, resolved)
        assert (drafts.read(ident, "md") is not None) is drafted_on_resolve
        deliver(ident, chat(f"postmortem {ident}", "Larry Brown", utc_now()))
        assert "| Facilitator | not named yet |" in (drafts.read(ident, "md") or "").splitlines()


def test_an_older_draft_never_replaces_a_newer_one_and_the_same_one_is_not_written_again(storage_account):
    drafts = DraftStore(storage_account)
    marker = NOTES_MARKER + "\n"

    def page(notes: str) -> str:
        return f"<p>{notes}</p>"

    assert drafts.save("INC-9", (5, 12), "# v5\n" + marker, "\nprompts\n", page) == "written"
    assert drafts.save("INC-9", (5, 12), "# v5\n" + marker, "\nprompts\n", page) == "unchanged"
    assert drafts.save("INC-9", (4, 11), "# v4\n" + marker, "\nprompts\n", page) == "superseded"
    assert drafts.read("INC-9", "md") == "# v5\n" + marker + "\nprompts\n"
    assert drafts.read("INC-9", "html") == "<p>\nprompts\n</p>"
