"""Review drafts published to the Azure DevOps wiki through the REAL azure-devops SDK, over HTTP to the local
stand-in (tests/standins/boards_server.py), with the incident store and drafts in Azurite; and the Teams card that
says the draft is ready, posted once to the Workflows stand-in.

The `postmortems` function is called with real deliveries: redelivered, concurrent, or after a write whose answer was
lost, there is one page per incident, never a lost edit made on the wiki, and one card.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from azure.functions.queue import QueueMessage

from functions import context
from functions import postmortems as postmortems_function
from shared.chatops import intake
from shared.chatops.grammar import parse_command
from shared.chatops.rules import Said
from shared.core import storage
from shared.core.timeutil import utc_now
from shared.incidents.changes import change_message
from shared.incidents.declaration import Declaration
from shared.incidents.declaration_intake import open_declared
from shared.postmortems.notes import NOTES_MARKER
from shared.postmortems.store import DraftStore
from tests.conftest import ROOT
from tests.standins.boards_server import BoardsServer
from tests.standins.workflow_server import WorkflowServer

# A short request timeout: the test of an answer lost after the page was written waits it out once.
FAST_HTTP = """
[http]
timeout_seconds = 1
attempts = 3
first_backoff_seconds = 0.05
max_backoff_seconds = 2
"""


@pytest.fixture
def wiki(
    storage_account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[BoardsServer, WorkflowServer]]:
    folder = tmp_path / "config"
    folder.mkdir()
    for name in ("services.toml", "people.toml", "oncall.toml", "escalations.toml", "authorization.toml"):
        (folder / name).write_text((ROOT / "config" / name).read_text())
    (folder / "boards.toml").write_text(FAST_HTTP)
    with BoardsServer() as boards, WorkflowServer() as workflow:
        monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(folder))
        monkeypatch.setenv("AZURE_DEVOPS_ORG_URL", boards.org_url)
        monkeypatch.setenv("AZURE_DEVOPS_PROJECT", boards.project)
        monkeypatch.setenv("AZURE_DEVOPS_PAT", boards.pat)
        monkeypatch.setenv("TEAMS_WORKFLOW_URL", workflow.url)
        monkeypatch.setenv("WEBSITE_HOSTNAME", "firebell.example.net")
        context.reset()
        yield boards, workflow
        context.reset()


def reviewed(severity: int = 2) -> tuple[str, list[str]]:
    """A declared incident, resolved and under review; the review start's events."""
    declaration = Declaration(
        title="Checkout <b>latency</b>",
        severity=severity,
        reporter="Ana Souza",
        service="checkout",
        components=("Checkout",),
        source="customer",
        description="Card payments time out",
        customer_impact="Checkout fails for a third of customers",
        detected_at=None,
    )
    incident = open_declared(declaration, None, context.incident_store(), context.catalog(), utc_now()).incident
    chat(f"resolve {incident.id} rolled back", "Larry Brown")
    return incident.id, chat(f"postmortem {incident.id} Nadia Visitor", "Larry Brown")


def chat(text: str, speaker: str) -> list[str]:
    said = Said(text=text, speaker=speaker, at=utc_now(), message_id=uuid.uuid4().hex)
    decision = intake.handle(parse_command(text), said, context.incident_store(), context.catalog(), "")
    assert decision.events and "refused" not in decision.events[0].text, decision.reply
    return [event.event_id for event in decision.events]


def deliver(incident: str, events: list[str], dequeue_count: int = 1) -> None:
    body = change_message(incident, events, ["status.changed"]).encode()
    postmortems_function.on_change(QueueMessage(id=uuid.uuid4().hex, body=body, dequeue_count=dequeue_count))


def page_path(incident: str) -> str:
    return f"/Post-incident reviews/{incident}"


def test_the_draft_becomes_one_wiki_page_through_the_sdk_and_one_card_links_it(wiki):
    boards, workflow = wiki
    ident, events = reviewed()
    deliver(ident, events)
    deliver(ident, events, dequeue_count=2)
    document = DraftStore(storage.account()).read(ident, "md")
    assert list(boards.pages) == [page_path(ident)]
    assert boards.wiki_page(page_path(ident)) == document  # the same review document as the blob, byte for byte
    puts = boards.requests("PUT", "/_apis/wiki/wikis/")
    assert [(r.status, r.api_version) for r in puts] == [(201, "7.1-preview.1")]
    (card,) = [r.card for r in workflow.delivered()]  # one card across both deliveries: the card ledger's
    assert card["body"][0]["items"][1]["text"] == "Post-incident review"
    (review,) = [a for a in card["actions"] if a["title"] == "Review draft"]
    page = boards.pages[page_path(ident)]
    assert review["url"] == f"{boards.org_url}/{boards.project}/_wiki/wikis/{boards.project}.wiki/{page.id}"


def test_an_edit_made_on_the_wiki_survives_every_redraft(wiki):
    boards, _ = wiki
    ident, events = reviewed()
    deliver(ident, events)
    path = page_path(ident)
    boards.edit_wiki_page(path, boards.wiki_page(path) + "\n- Contributing factor: the retry storm.\n")
    more = chat(f"action {ident} cap the client's retries", "Priya Raman")
    deliver(ident, more)
    content = boards.wiki_page(path) or ""
    assert content.endswith("\n- Contributing factor: the retry storm.\n")
    assert "- cap the client's retries · owner Priya Raman" in content.partition(NOTES_MARKER)[0]
    assert len(boards.pages) == 1


def test_concurrent_deliveries_make_one_page_and_an_update_whose_answer_was_lost_is_not_repeated(wiki):
    boards, _ = wiki
    ident, events = reviewed()
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(deliver, ident, events, n + 1) for n in range(4)]:
            future.result()
    assert list(boards.pages) == [page_path(ident)]
    creates = [r for r in boards.requests("PUT", "/_apis/wiki/wikis/") if r.status == 201]
    assert len(creates) == 1

    # The page is updated but the answer comes after the client stopped waiting: the retry finds it current.
    more = chat(f"action {ident} alert on queue depth", "Priya Raman")
    boards.slow_next(1.5, method="PUT", path_contains="/pages")
    deliver(ident, more)
    content = boards.wiki_page(page_path(ident)) or ""
    assert content.count("- alert on queue depth · owner Priya Raman") == 1
    assert content == DraftStore(storage.account()).read(ident, "md")
