"""Schema-driven fuzzing of the whole HTTP API from its OpenAPI document (schemathesis over Hypothesis), through the
devhost over a socket against Azurite: every operation, with the function key, and Teams messages signed with the
webhook's token. Properties: no answer ≥ 500; every answer (status, content type, body) is one the document
describes; every 4xx stored nothing (tables, queues and blobs compared before and after).

Cases per operation: FIREBELL_FUZZ_EXAMPLES (default 12, the fast run in `make test`; e.g. 300 for a long run).
Valid and invalid requests both, as the document describes them; figures are printed at the end of each test."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
import schemathesis
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from devhost.timers import LOCKS as TIMER_LOCKS
from functions.openapi import DOCUMENT
from shared.core.text import clean
from shared.core.timeutil import iso, utc_now
from tests.conftest import SAMPLES, TEAMS_TOKEN, running_firebell
from tests.integration.test_teams_chatops import sender, signature

KEY = "fuzz-key"
JSON = "application/json"
EXAMPLES = int(os.environ.get("FIREBELL_FUZZ_EXAMPLES", "12"))
BOARDS_SECRET = "fuzz-boards-service-hook-secret"
SCHEMA = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text(encoding="utf-8")))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
TEAMS_SAMPLE = json.loads((SAMPLES / "teams" / "outgoing_sample.json").read_text())
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=False
)


@pytest.fixture
def api(storage_account, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """HTTP only, no queue triggers or timers: what is stored changes only by the requests sent, so a refused
    request can be shown to have stored nothing."""
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    monkeypatch.setenv("TEAMS_OUTGOING_WEBHOOK_TOKEN", TEAMS_TOKEN)
    monkeypatch.setenv("BOARDS_SERVICE_HOOK_SECRET", BOARDS_SECRET)
    with running_firebell(background=False) as url:
        yield url.removesuffix("/api")


def stored(connection_string: str) -> dict[str, Any]:
    """Everything stored in the account: every table's rows, every queue's messages, every blob's ETag."""
    tables = TableServiceClient.from_connection_string(connection_string)
    queues = QueueServiceClient.from_connection_string(connection_string)
    blobs = BlobServiceClient.from_connection_string(connection_string)
    found: dict[str, Any] = {}
    for table in tables.list_tables():
        rows = tables.get_table_client(table.name).list_entities()
        found[f"table:{table.name}"] = sorted(json.dumps(dict(row), sort_keys=True, default=str) for row in rows)
    for queue in queues.list_queues():
        client = queues.get_queue_client(queue.name)
        found[f"queue:{queue.name}"] = (
            client.get_queue_properties().approximate_message_count,
            sorted(message.content for message in client.peek_messages(max_messages=32)),
        )
    for container in blobs.list_containers():
        listing = blobs.get_container_client(container.name).list_blobs()
        found[f"container:{container.name}"] = sorted((blob.name, blob.etag) for blob in listing)
    # A table, queue or container made on first use holds nothing: only what is in them counts. The timers' own
    # bookkeeping (the host's singleton locks, the app's timer leases) comes from the clock, not from any input.
    found.pop(f"container:{TIMER_LOCKS}", None)
    if rows := found.get("table:escalations"):
        found["table:escalations"] = [row for row in rows if json.loads(row)["PartitionKey"] != "lease"]
    return {name: content for name, content in found.items() if content and content != (0, [])}


def send(api: str, case: Any) -> requests.Response:
    """The case over HTTP: the function key on every route, and the Teams route's body signed as Teams signs it."""
    kwargs = case.as_transport_kwargs(base_url=api)
    headers = {**kwargs.pop("headers", {}), "x-functions-key": KEY}
    if case.path == "/api/teams":
        body = json.dumps(case.body).encode() if "json" in kwargs else (kwargs.pop("data", None) or b"")
        kwargs.pop("json", None)
        if isinstance(body, str):
            body = body.encode()
        headers["Authorization"] = signature(body)
        kwargs["data"] = body
    if case.path == "/api/boards/events":
        headers["X-Firebell-Secret"] = BOARDS_SECRET  # past the credentials, into the event's parser
    return requests.request(**kwargs, headers=headers, timeout=30)


def fuzz(api: str, connection_string: str, cases: st.SearchStrategy, capsys, label: str) -> None:
    statuses: Counter[int] = Counter()

    @FUZZ_SETTINGS
    @given(case=cases)
    def run(case: Any) -> None:
        before = stored(connection_string)
        answer = send(api, case)
        statuses[answer.status_code] += 1
        case.validate_response(answer, checks=CHECKS)
        if 400 <= answer.status_code < 500:
            assert stored(connection_string) == before, (answer.status_code, answer.text[:200])

    run()
    with capsys.disabled():
        print(f"\nfuzz {label}: {sum(statuses.values())} cases, 0 failures; statuses {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) >= 1 and all(status < 500 for status in statuses)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_every_operation_answers_as_documented_never_500_and_a_refusal_stores_nothing(
    api, storage_account, operation, capsys
):
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | operation.as_strategy(
        generation_mode=GenerationMode.NEGATIVE
    )
    fuzz(api, storage_account.connection_string, cases, capsys, operation.label)


COMMANDS = st.sampled_from(
    [
        "ack",
        "resolve",
        "note",
        "status",
        "update",
        "role commander",
        "mitigated",
        "oncall",
        "help",
        "sev 2",
        "incidents",
    ]
)
INCIDENTS = st.sampled_from(["INC-1", "INC-2", "inc-1", "INC-²", "INC-99999999999", ""])
WORDS = st.text(st.characters(codec=None), max_size=30) | st.sampled_from(["<a " * 50, "&#xFFFE;", "\u202e", "²"])


@st.composite
def teams_messages(draw: st.DrawFn) -> dict[str, Any]:
    """Signed activities as Teams sends them (the published sample), with commands people type and odd text."""
    document = json.loads(json.dumps(TEAMS_SAMPLE))
    words = f"{draw(COMMANDS)} {draw(INCIDENTS)} {draw(WORDS)}"
    speaker = draw(st.sampled_from(["Tim Jones", "Larry Brown", "Someone Else"]))
    document.update(id=str(draw(st.integers(0, 10**9))), text=f"<at>Firebell</at> {words}")
    document["from"] = sender(speaker)  # listed people by their ids, anyone else a guest
    document["timestamp"] = iso(utc_now())
    return document


def test_signed_teams_commands_answer_as_documented_never_500_and_a_refusal_stores_nothing(
    api, storage_account, capsys
):
    teams = SCHEMA.find_operation_by_label("POST /api/teams")
    declare = requests.post(
        f"{api}/api/incidents",
        json={"title": "Checkout fails", "severity": 2, "reporter": "Dana", "service": "checkout"},
        headers={"x-functions-key": KEY},
        timeout=30,
    )
    assert declare.status_code == 201
    cases = teams_messages().map(
        lambda body: SCHEMA.make_case(operation=teams, body=body, media_type="application/json")
    )
    fuzz(api, storage_account.connection_string, cases, capsys, "signed Teams commands")


AZURE_MONITOR_SAMPLES = sorted((SAMPLES / "azure-monitor").glob("[0-9][0-9]_*[!t].json"))
SOON = st.integers(min_value=-600, max_value=60 * 24 * 40).map(lambda minutes: utc_now() + timedelta(minutes=minutes))
AHEAD = st.integers(min_value=5, max_value=60 * 24 * 30).map(lambda minutes: utc_now() + timedelta(minutes=minutes))
INSTANTS = SOON.map(iso) | st.sampled_from(["", "now", "+2h", "2026-13-01T00:00:00Z", "0205-04-24T14:54:33Z"])
ODD = st.text(st.characters(codec=None), max_size=20) | st.sampled_from(["²", "\u202e", "\ufffe", "<a " * 40])


def mostly(good: st.SearchStrategy) -> st.SearchStrategy:
    """Usually a good value, sometimes an odd one: enough requests are accepted to build up state."""
    return st.one_of(good, good, good, ODD)


@st.composite
def alerts(draw: st.DrawFn) -> dict[str, Any]:
    """A published Azure Monitor payload with some essentials replaced: most open, join or resolve an incident."""
    document = json.loads(draw(st.sampled_from(AZURE_MONITOR_SAMPLES)).read_text())
    essentials = document["data"]["essentials"]
    essentials["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{draw(st.integers(0, 5))}"
    essentials["firedDateTime"] = draw(INSTANTS)
    for name in draw(
        st.lists(st.sampled_from(["severity", "monitorCondition", "alertRule", "signalType"]), max_size=2)
    ):
        essentials[name] = draw(st.sampled_from(["Sev0", "Sev4", "Fired", "Resolved", None, 7]) | ODD)
    return document


@st.composite
def overrides(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.one_of(AHEAD, AHEAD, AHEAD, SOON))
    body = {
        "roster": draw(mostly(st.sampled_from(["payments", "platform"]))),
        "person": draw(mostly(st.sampled_from(["Tim Jones", "Larry Brown", "Priya Raman"]))),
        "start": iso(start),
        "end": draw(
            st.one_of(st.integers(30, 600), st.integers(30, 600), st.integers(-60, 60 * 24 * 100)).map(
                lambda minutes: iso(start + timedelta(minutes=minutes))
            )
        ),
    }
    if draw(st.booleans()):
        body["layer"] = draw(mostly(st.sampled_from(["primary", "secondary"])))
    return body


@st.composite
def maintenances(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.one_of(AHEAD, AHEAD, AHEAD, SOON))
    return {
        "name": draw(mostly(st.sampled_from(["Database upgrade", "Network change"]))),
        "components": draw(
            st.lists(mostly(st.sampled_from(["Checkout", "Other services", "Build pipelines"])), min_size=1, max_size=3)
        ),
        "scheduled_for": iso(start),
        "scheduled_until": draw(
            st.one_of(st.integers(30, 600), st.integers(30, 600), st.integers(-60, 60 * 24 * 40)).map(
                lambda m: iso(start + timedelta(minutes=m))
            )
        ),
        "description": draw(mostly(st.just("Expect a short outage."))),
    }


@pytest.mark.parametrize(
    ("label", "bodies"),
    [
        ("POST /api/alerts", alerts()),
        ("POST /api/oncall/overrides", overrides()),
        ("POST /api/maintenances", maintenances()),
    ],
)
def test_plausible_bodies_are_accepted_or_refused_as_documented_and_a_refusal_stores_nothing(
    api, storage_account, capsys, label, bodies
):
    """Bodies built from the published samples and the example configuration, so that many are accepted and the
    state they build up is what later requests meet (random schema-valid bodies name no roster or component)."""
    operation = SCHEMA.find_operation_by_label(label)
    cases = bodies.map(lambda body: SCHEMA.make_case(operation=operation, body=body, media_type=JSON))
    fuzz(api, storage_account.connection_string, cases, capsys, f"plausible {label}")


# --- what was accepted survives everything downstream -----------------------------------------------------------------


@st.composite
def declarations(draw: st.DrawFn) -> dict[str, Any]:
    """Declarations with odd words where people type them: title, description, customer impact."""
    body: dict[str, Any] = {
        "title": draw(mostly(st.sampled_from(["Checkout fails", "Payments slow"]))),
        "severity": draw(st.sampled_from([1, 2, 3])),
        "reporter": draw(mostly(st.just("Dana"))),
        "service": draw(st.sampled_from(["checkout", "payments", "build-agents"])),
    }
    for name in draw(st.lists(st.sampled_from(["description", "customer_impact"]), max_size=2, unique=True)):
        body[name] = draw(ODD | st.just("Some customers see errors."))
    return body


PUBLIC_WORDS = st.text(st.characters(codec=None), min_size=1, max_size=40) | st.sampled_from(
    ["<a " * 50, "&#xFFFE; & <b>", "\u202e reversed", "²", "]]> <![CDATA[", "line\nbreak", "\x00\x1f"]
)


@st.composite
def public_updates(draw: st.DrawFn) -> dict[str, Any]:
    """The communication coordinator's public updates with odd words: the status page, its feeds and its JSON API
    carry them (Tim Jones is on the policy's list of those who may post them)."""
    document = json.loads(json.dumps(TEAMS_SAMPLE))
    status = draw(st.sampled_from(["investigating", "identified", "monitoring"]))
    words = draw(PUBLIC_WORDS)
    document.update(id=str(draw(st.integers(0, 10**9))), text=f"<at>Firebell</at> update INC-1 {status} {words}")
    document["from"] = sender("Tim Jones")
    document["timestamp"] = iso(utc_now())
    return document


def test_every_accepted_value_survives_the_cards_the_feeds_the_json_api_and_the_html(api, storage_account, capsys):
    """After fuzzed declarations, alerts and public updates were accepted, everything built from what was stored is
    well-formed: every card encodes and names its incident, the feeds parse as XML 1.0, the Statuspage JSON API and
    Firebell's own API parse as JSON, the HTML parses and holds no markup from the words, and every public update
    stored for a published incident is in the JSON API as the text policy left it."""
    import xml.etree.ElementTree as ElementTree
    from html.parser import HTMLParser

    from functions import context
    from shared.notifications import cards

    connection = storage_account.connection_string
    first = {"title": "Checkout fails", "severity": 2, "reporter": "Dana", "service": "checkout"}  # public: INC-1
    answer = requests.post(f"{api}/api/incidents", json=first, headers={"x-functions-key": KEY}, timeout=30)
    assert answer.status_code == 201 and answer.json()["id"] == "INC-1"
    for label, bodies in [("POST /api/incidents", declarations()), ("POST /api/alerts", alerts())]:
        operation = SCHEMA.find_operation_by_label(label)
        cases = bodies.map(lambda body, op=operation: SCHEMA.make_case(operation=op, body=body, media_type=JSON))
        fuzz(api, connection, cases, capsys, f"accepted values: {label}")
    teams = SCHEMA.find_operation_by_label("POST /api/teams")
    updates = public_updates().map(lambda body: SCHEMA.make_case(operation=teams, body=body, media_type=JSON))
    fuzz(api, connection, updates, capsys, "accepted values: public updates in Teams")

    store = context.incident_store()
    incidents = store.list_incidents()
    assert incidents, "nothing was accepted: the check below would prove nothing"
    notifier = context.notifier()
    posted = 0
    for incident in incidents:
        links = notifier.links(incident)
        messages = [
            cards.paged_card(incident, cards.Recipient("Tim Jones"), "payments primary, step 1 of 3", links),
            cards.acknowledged_card(incident, cards.Recipient("Tim Jones"), links),
            cards.role_card(incident, "commander", cards.Recipient("Tim Jones"), None, links),
            cards.resolved_card(incident, "Tim Jones", incident.title, links),
        ]
        for message in messages:
            decoded = json.loads(cards.encode(message).decode("utf-8"))  # strict UTF-8: no lone surrogate survives
            assert incident.id in json.dumps(decoded, ensure_ascii=False)
        api_answer = requests.get(f"{api}/api/incidents/{incident.id}", headers={"x-functions-key": KEY}, timeout=30)
        assert api_answer.status_code == 200 and api_answer.json()["id"] == incident.id
        posted += sum(1 for event in store.timeline(incident.id) if event.kind == "update.posted")

    assert context.site_publisher().refresh() > 0
    site = BlobServiceClient.from_connection_string(connection).get_container_client("$web")
    files = {blob.name: site.download_blob(blob.name).readall() for blob in site.list_blobs()}
    for name, content in files.items():
        if name.endswith((".atom", ".rss")):
            ElementTree.fromstring(content)  # noqa: S314 (our own output) — expat: XML 1.0 refuses U+FFFE and C0
        elif name.endswith(".json"):
            json.loads(content)
        elif name.endswith(".html"):
            page = content.decode("utf-8")
            HTMLParser().feed(page)
            assert "<a <a" not in page and "<b>" not in page, name  # words are text, never markup
    bodies = {
        update["body"]
        for incident in json.loads(files["api/v2/incidents.json"])["incidents"]
        for update in incident["incident_updates"]
    }
    # INC-1 (checkout, SEV2) is public from its first public update: each one is there, as the text policy left it.
    words = [clean(str(e.data["public_text"]), multiline=True) for e in store.timeline("INC-1") if e.public]
    assert words and set(words) <= bodies, sorted(set(words) - bodies)[:3]
    with capsys.disabled():
        print(
            f"\naccepted values: {len(incidents)} incidents, {posted} public updates, {len(files)} site files checked"
        )
