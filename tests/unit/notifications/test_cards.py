"""Notification cards are Adaptive Cards 1.5 in the Workflows envelope: valid against the official schema once the
Teams-only extensions are stripped, naming the incident and who is paged and why, linking only http(s) pages, and
never over the 28 KB Workflows limit whatever the alert's words."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from jsonschema import Draft6Validator

from shared.incidents.incident import Incident
from shared.notifications import cards
from shared.oncall.people import Person
from shared.statuspage.public_ids import public_id
from tests.conftest import SAMPLES
from tests.unit.statuspage.ids import pid

SCHEMA = json.loads((SAMPLES / "teams" / "adaptive-card-1.5.0.schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft6Validator(SCHEMA)
ENVELOPE = json.loads((SAMPLES / "teams" / "incoming_webhook_adaptive_card_message.json").read_text(encoding="utf-8"))
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
DETECTED = NOW - timedelta(minutes=95)
RUNBOOK = "https://runbooks.example.com/checkout"
BOARDS = "https://dev.azure.com/acme/Firebell/_workitems/edit/42"
TIM = cards.Recipient("Tim Jones", "tim.jones@example.com")


def incident(**changes: object) -> Incident:
    base = Incident(
        id="INC-7",
        number=7,
        title="Checkout p95 latency over 2 s",
        service="checkout",
        components=("Checkout",),
        severity=2,
        status="triggered",
        source="monitoring",
        source_detail="checkout-latency",
        detected_at=DETECTED,
        declared_at=DETECTED,
        updated_at=NOW,
        work_item_url=BOARDS,
    )
    return dataclasses.replace(base, **changes)


def links(case: Incident | None = None, status_page: str = "https://status.example.com/") -> cards.IncidentLinks:
    return cards.incident_links(case or incident(), RUNBOOK, status_page)


DRAFT = "https://firebell.azurewebsites.net/api/incidents/INC-7/postmortem"


def every_kind(case: Incident) -> dict[str, dict]:
    resolved = dataclasses.replace(case, status="resolved", resolved_at=NOW)
    return {
        cards.PAGED: cards.paged_card(case, TIM, "payments primary, step 1 of 3", links(case)),
        cards.ACKNOWLEDGED: cards.acknowledged_card(case, TIM, links(case)),
        cards.ROLE: cards.role_card(case, "commander", TIM, "Larry Brown", links(case)),
        cards.RESOLVED: cards.resolved_card(resolved, "Tim Jones", "Tim Jones resolved the incident", links(case)),
        cards.REMINDER: cards.reminder_card(case, [TIM], NOW - timedelta(minutes=7), NOW, links(case)),
        cards.EXHAUSTED: cards.exhausted_card(case, "every step ran", ["Tim Jones", "Larry Brown"], links(case)),
        cards.REVIEW: cards.review_card(
            dataclasses.replace(resolved, status="postmortem"),
            DRAFT,
            links(case),
        ),
        cards.FOLLOW_UP: cards.follow_up_card(
            case, TIM, "Add a retry budget", date(2026, 11, 28), NOW, BOARDS, links(case)
        ),
    }


def schema_errors(message: dict) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(cards.without_teams_extensions(cards.card_of(message)))]


def facts(message: dict) -> dict[str, str]:
    factset = next(item for item in cards.card_of(message)["body"] if item["type"] == "FactSet")
    return {fact["title"]: fact["value"] for fact in factset["facts"]}


def texts(message: dict) -> list[str]:
    """Every TextBlock's text in reading order (the heading container first)."""
    body = cards.card_of(message)["body"]
    items = [inner for item in body for inner in item.get("items", [item])]
    return [item["text"] for item in items if item["type"] == "TextBlock"]


@pytest.mark.parametrize("kind", cards.KINDS)
def test_every_card_kind_is_a_valid_adaptive_card_1_5_in_the_workflows_envelope(kind):
    message = every_kind(incident())[kind]
    assert schema_errors(message) == []
    card = cards.card_of(message)
    assert card["version"] == "1.5"
    # The envelope is the one the Workflows sample shows.
    assert message["type"] == ENVELOPE["type"] == "message"
    assert [a["contentType"] for a in message["attachments"]] == [ENVELOPE["attachments"][0]["contentType"]]
    assert facts(message)["Incident"] == "INC-7"
    assert facts(message)["Severity"] == "SEV2"
    assert facts(message)["Service"] == "checkout"
    assert texts(message)[0] == "INC-7 · SEV2 · Checkout p95 latency over 2 s"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Runbook", "url": RUNBOOK},
        {
            "type": "Action.OpenUrl",
            "title": "Status page",
            "url": f"https://status.example.com/incidents/{pid('INC-7')}.html",
        },
        {"type": "Action.OpenUrl", "title": "Boards work item", "url": BOARDS},
    ] + ([{"type": "Action.OpenUrl", "title": "Review draft", "url": DRAFT}] if kind == cards.REVIEW else [])


def test_the_follow_up_card_reminds_its_owner_by_mention_and_links_the_task_not_the_incident_item():
    task = "https://dev.azure.com/acme/Firebell/_workitems/edit/43"
    message = cards.follow_up_card(incident(), TIM, "Add a retry budget", date(2026, 11, 28), NOW, task, links())
    assert facts(message) | {"Detected": ""} == {
        "Incident": "INC-7",
        "Severity": "SEV2",
        "Service": "checkout",
        "Status": "triggered",
        "Detected": "",
        "Follow-up": "Add a retry budget",
        "Owner": "Tim Jones",
        "Due": "2026-11-28",
    }
    assert texts(message)[1:] == [
        "Follow-up overdue",
        "<at>Tim Jones</at>: your follow-up of INC-7 was due 2026-11-28 (3 days ago). Close its Boards task when it "
        "is done; Firebell reminds you daily until then.",
    ]
    assert cards.card_of(message)["msteams"]["entities"][0]["mentioned"] == {
        "id": "tim.jones@example.com",
        "name": "Tim Jones",
    }
    assert cards.card_of(message)["actions"][-1] == {"type": "Action.OpenUrl", "title": "Boards work item", "url": task}


def test_the_schema_check_is_strict_so_unstripped_teams_extensions_fail_it():
    message = every_kind(incident())[cards.PAGED]
    assert [e.message for e in VALIDATOR.iter_errors(cards.card_of(message))] != []  # `msteams` is not Adaptive Card


def test_the_paged_card_says_who_is_paged_and_why_and_mentions_them():
    message = cards.paged_card(incident(), TIM, "payments primary, step 1 of 3", links())
    assert facts(message) == {
        "Incident": "INC-7",
        "Severity": "SEV2",
        "Service": "checkout",
        "Status": "triggered",
        "Detected": "2026-12-01T08:55:00.000Z",
        "Paged": "Tim Jones",
        "Why": "payments primary, step 1 of 3",
    }
    assert texts(message)[2] == "Paging <at>Tim Jones</at>: INC-7 needs a responder. Acknowledge with `ack INC-7`."
    assert cards.card_of(message)["msteams"] == {
        "width": "Full",
        "entities": [
            {
                "type": "mention",
                "text": "<at>Tim Jones</at>",
                "mentioned": {"id": "tim.jones@example.com", "name": "Tim Jones"},
            }
        ],
    }


def test_someone_without_a_known_teams_identity_is_named_not_mentioned():
    message = cards.paged_card(incident(), cards.Recipient("Pat *Unknown*"), "incident commander", links())
    assert texts(message)[2] == "Paging Pat \\*Unknown\\*: INC-7 needs a responder. Acknowledge with `ack INC-7`."
    assert cards.card_of(message)["msteams"] == {"width": "Full"}


def test_a_person_is_mentioned_by_entra_object_id_then_email_then_teams_id():
    full = Person("Tim Jones", email="tim@example.com", teams_id="29:abc", aad_object_id="6f1c-aad")
    assert cards.Recipient.of(full) == cards.Recipient("Tim Jones", "6f1c-aad")
    assert cards.Recipient.of(Person("Tim Jones", email="tim@example.com", teams_id="29:abc")).mention_id == (
        "tim@example.com"
    )
    assert cards.Recipient.of(Person("Tim Jones", teams_id="29:abc")).mention_id == "29:abc"
    assert cards.Recipient.of(Person("Tim Jones")) == cards.Recipient("Tim Jones", None)


def test_kind_specific_facts():
    made = every_kind(incident(acknowledged_by=("Tim Jones",)))
    assert facts(made[cards.ACKNOWLEDGED])["Acknowledged by"] == "Tim Jones"
    assert texts(made[cards.ROLE])[2] == (
        "<at>Tim Jones</at> is incident commander of INC-7 (taking over from Larry Brown)."
    )
    assert (facts(made[cards.ROLE])["Incident commander"], facts(made[cards.ROLE])["Before"]) == (
        "Tim Jones",
        "Larry Brown",
    )
    assert facts(made[cards.RESOLVED])["Duration"] == "1 h 35 min"
    assert facts(made[cards.RESOLVED])["Status"] == "resolved"
    assert (facts(made[cards.REMINDER])["Promised by"], facts(made[cards.REMINDER])["Overdue"]) == (
        "2026-12-01T10:23:00.000Z",
        "7 min",
    )
    assert facts(made[cards.EXHAUSTED])["Paged so far"] == "Tim Jones, Larry Brown"


def test_only_http_links_become_buttons_and_the_status_page_link_works_without_a_trailing_slash():
    case = incident(work_item_url="javascript:alert(1)")
    made = cards.paged_card(case, TIM, "why", cards.incident_links(case, "ftp://runbooks", "https://acme.io/status"))
    assert cards.card_of(made)["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Status page",
            "url": f"https://acme.io/status/incidents/{pid('INC-7')}.html",
        }
    ]
    no_links = cards.paged_card(case, TIM, "why", cards.incident_links(case, None, ""))
    assert cards.card_of(no_links)["actions"] == []
    assert schema_errors(no_links) == []


def test_the_status_page_link_uses_the_public_id_and_an_internal_service_has_none():
    case = incident()
    keyed = cards.incident_links(case, None, "https://acme.io/status", b"production key")
    assert keyed.status_page == f"https://acme.io/status/incidents/{public_id('INC-7', b'production key')}.html"
    assert "INC-7" not in keyed.status_page
    assert (
        cards.incident_links(case, None, "https://acme.io/status", b"production key", public=False).status_page is None
    )


def test_words_from_alerts_are_inert_markdown():
    case = incident(title="[click](javascript:alert(1)) <b>x</b> **now**")
    message = cards.paged_card(case, TIM, "why", links(case))
    assert texts(message)[0] == "INC-7 · SEV2 · \\[click\\](javascript:alert(1)) \\<b\\>x\\</b\\> \\*\\*now\\*\\*"


@pytest.mark.parametrize(
    "title",
    [
        "x" * 1_000_000,
        "🔥" * 300_000,  # four bytes each in UTF-8
        "e\u0301" * 200_000,  # combining accents: never cut between a letter and its accent
        "*" * 100_000,  # doubles when escaped
    ],
)
def test_a_huge_title_is_truncated_and_every_card_stays_under_28_kb(title):
    case = incident(title=title, source_detail=title, description=title)
    huge = cards.Recipient(title[:5000], "id")
    made = {
        **every_kind(case),
        "paged-huge": cards.paged_card(case, huge, title, links(case)),
        "reminder-huge": cards.reminder_card(case, [huge] * 20, NOW, NOW, links(case)),
        "exhausted-huge": cards.exhausted_card(case, title, [title] * 50, links(case)),
    }
    for kind, message in made.items():
        size = len(cards.encode(message))
        assert size <= cards.MAX_MESSAGE_BYTES, (kind, size)
        assert schema_errors(message) == [], kind
        heading = texts(message)[0]
        assert heading.endswith("…"), kind
        if title.startswith("e\u0301"):
            assert heading[-2] == "\u0301", kind  # the cut kept each letter with its accent
        if title.startswith("*"):
            assert heading.endswith("\\*…"), kind  # escaped after the cut: no escape is cut in half


def test_a_cut_never_separates_a_letter_from_its_combining_accent():
    cut = cards.shorten("e\u0301" * 10, 6)
    assert cut == "e\u0301e\u0301…"
    assert cards.shorten("short", 10) == "short"
    assert len(cards.shorten("a" * 50, 10)) == 10


def test_the_encoded_message_is_the_json_posted():
    message = every_kind(incident())[cards.PAGED]
    assert json.loads(cards.encode(message)) == message
