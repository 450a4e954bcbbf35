"""Drills over the real parts: the FunctionApp in an in-process devhost over Azurite, the Teams Workflows stand-in,
the Boards stand-in, messages signed as Teams signs them, and the drill alert fired by the operator tool from Azure
Monitor's own sample.

A drill pages and escalates like an incident, with DRILL on every card and reply; it leaves the public site (every
`$web` blob and its metadata), the metrics and Boards as they were; its report is its timeline's figures. A drill
alert and a real alert never meet in one incident, whichever comes first.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from devhost.ops.cli import main as ops
from functions import context
from shared.azure_monitor.alert import parse_alert
from shared.core.timeutil import iso, parse_instant, utc_now
from shared.incidents.alert_intake import receive_alert
from shared.incidents.changes import change_message
from shared.incidents.store import IncidentStore
from shared.readiness.materialise import UNCHANGED, on_change
from shared.readiness.store import ReadinessStore
from shared.statuspage.web_store import WEB_CONTAINER
from tests.conftest import ROOT, TEAMS_TOKEN, running_firebell, sample_json, wait_until
from tests.integration.test_notifications import ESCALATIONS, ONCALL
from tests.integration.test_teams_chatops import say
from tests.integration.test_workitems import FAST_HTTP, IDENTITY_VARIABLES
from tests.standins.boards_server import BoardsServer
from tests.standins.workflow_server import WorkflowServer

KEY = "drill-test-key"
SAMPLE = "59_test_action_metric_static_threshold.json"
QUEUES = ("notifications", "statuspage", "workitems", "readiness")


def alert(alert_id: str, drill: bool, severity: str = "Sev1") -> bytes:
    document = sample_json(SAMPLE)
    document["data"]["essentials"].update(alertId=f"/providers/Microsoft.AlertsManagement/alerts/{alert_id}")
    document["data"]["essentials"]["severity"] = severity
    if drill:
        document["data"]["customProperties"]["firebell_drill"] = "true"
    return json.dumps(document).encode()


def test_a_drill_alert_and_a_real_alert_never_share_an_incident_whichever_comes_first(storage_account):
    store, catalog, now = IncidentStore(storage_account), context.catalog(), utc_now()

    def fire(alert_id: str, drill: bool) -> tuple[str | None, str]:
        intake = receive_alert(parse_alert(alert(alert_id, drill)), catalog, store, now)
        return intake.incident_id, intake.outcome

    # checkout groups every alert of the service in one open incident (config/services.toml: group_by = "service").
    assert fire("a1", drill=False) == ("INC-1", "opened")
    assert fire("a1", drill=True) == ("INC-2", "opened")  # the same alert id, as a drill: its own key, a new drill
    assert fire("a2", drill=False) == ("INC-1", "joined")  # a real alert of the service joins the real incident
    assert fire("a3", drill=True) == ("INC-2", "joined")  # a drill alert joins the drill
    assert fire("a1", drill=True) == ("INC-2", "duplicate")
    assert [(i.id, i.drill) for i in store.list_incidents()] == [("INC-1", False), ("INC-2", True)]
    assert {e.data["alert"] for e in store.timeline("INC-2") if e.kind == "alert.fired"} == {"drill-a1", "drill-a3"}


def test_a_drill_opened_first_never_collects_the_real_alerts_of_its_service(storage_account):
    store, catalog, now = IncidentStore(storage_account), context.catalog(), utc_now()
    drill = receive_alert(parse_alert(alert("b1", drill=True)), catalog, store, now)
    real = receive_alert(parse_alert(alert("b1", drill=False)), catalog, store, now)
    assert (drill.incident_id, drill.outcome, real.incident_id, real.outcome) == ("INC-1", "opened", "INC-2", "opened")
    assert store.get_incident("INC-2").drill is False


def test_a_resolved_drill_writes_no_readiness_summary(storage_account):
    store, catalog, now = IncidentStore(storage_account), context.catalog(), utc_now()
    intake = receive_alert(parse_alert(alert("c1", drill=True)), catalog, store, now)
    stored = store.load_incident("INC-1")
    resolved = stored.incident.changed(now, status="resolved", resolved_at=now, mitigated_at=now)
    store.save_incident(resolved, stored.etag, was_open=True)
    readiness = ReadinessStore(storage_account)
    message = change_message("INC-1", list(intake.event_ids), ["status.changed"])
    assert on_change(message, store, readiness, catalog, context.people()) == UNCHANGED
    assert readiness.get("INC-1", resolved.declared_at) is None


# --- end to end -------------------------------------------------------------------------------------------------------


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """The example configuration, with escalation waits of a second or two and fast Boards retries."""
    folder = tmp_path / "config"
    shutil.copytree(ROOT / "config", folder)
    (folder / "oncall.toml").write_text(ONCALL, encoding="utf-8")
    (folder / "escalations.toml").write_text(ESCALATIONS, encoding="utf-8")
    (folder / "boards.toml").write_text(FAST_HTTP, encoding="utf-8")  # drills = false by default
    return folder


@pytest.fixture
def drill_day(storage_account, config_dir, monkeypatch) -> Iterator[tuple[str, WorkflowServer, BoardsServer]]:
    with WorkflowServer() as workflow, BoardsServer(identities=("tim.jones@example.com",)) as boards:
        settings = {
            "FIREBELL_CONFIG_DIR": str(config_dir),
            "FIREBELL_FUNCTION_KEY": KEY,
            "TEAMS_OUTGOING_WEBHOOK_TOKEN": TEAMS_TOKEN,
            "TEAMS_WORKFLOW_URL": workflow.url,
            "STATUS_PAGE_URL": "https://status.example.com/",
            "AZURE_DEVOPS_ORG_URL": boards.org_url,
            "AZURE_DEVOPS_PROJECT": boards.project,
            "AZURE_DEVOPS_PAT": boards.pat,
            "WEBSITE_HOSTNAME": "firebell.azurewebsites.net",
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        for name in (*IDENTITY_VARIABLES, "AZURE_CLIENT_ID"):
            monkeypatch.delenv(name, raising=False)
        context.reset()
        _clear_of_the_hourly_render()
        with running_firebell() as api:
            yield api, workflow, boards


def _clear_of_the_hourly_render() -> None:
    """The hourly status page refresh re-renders the site whatever changed: keep this test clear of it."""
    into_hour = utc_now().minute * 60 + utc_now().second
    if into_hour < 5 or into_hour > 3600 - 60:
        time.sleep((3600 - into_hour + 6) % 3600)


def get(url: str, **params: str) -> requests.Response:
    return requests.get(url, params=params, headers={"x-functions-key": KEY}, timeout=30)


def metrics(api: str, window: dict[str, str]) -> dict[str, Any]:
    """The readiness figures of a fixed window; the on-call fairness span ends now (never in the future): left out."""
    document = get(f"{api}/metrics", **window).json()
    for bound in ("from", "to"):
        document["fairness"].pop(bound)
    return document


def web_blobs(account) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Every public blob with its content and metadata (which carries the state version it shows)."""
    container = account.blob_service.get_container_client(WEB_CONTAINER)
    return {
        blob.name: (container.download_blob(blob.name).readall(), dict(blob.metadata or {}))
        for blob in container.list_blobs(include=["metadata"])
    }


def settled(account) -> bool:
    return all(account.queue(name).get_queue_properties().approximate_message_count == 0 for name in QUEUES)


def headings(workflow: WorkflowServer) -> list[str]:
    return [r.card["body"][0]["items"][0]["text"] for r in workflow.delivered()]


def fire_drill(api: str, *options: str) -> tuple[str, str]:
    out = io.StringIO()
    assert ops(["drill", "--url", api.removesuffix("/api"), *options], out=out) == 0
    said = re.search(r"drill alert (\S+) (?:fired|resolved): (INC-\d+)", out.getvalue())
    assert said is not None, out.getvalue()
    return said.group(1), said.group(2)


def seconds(later: str, earlier: str) -> float:
    return max(0.0, (parse_instant(later) - parse_instant(earlier)).total_seconds())


def test_a_drill_pages_escalates_and_takes_commands_like_an_incident_and_the_public_and_the_metrics_never_know(
    drill_day, storage_account
):
    api, workflow, boards = drill_day
    context.site_publisher().render_and_publish()  # the public site as it stands before the drill
    window = {"from": iso(utc_now() - timedelta(days=1)), "to": iso(utc_now() + timedelta(days=1))}
    site_before, metrics_before = web_blobs(storage_account), metrics(api, window)
    assert "index.html" in site_before

    # The operator fires Azure Monitor's sample as a drill (SEV2 by config/services.toml's Sev1 = 2).
    instance, ident = fire_drill(api, "--severity", "Sev1")
    assert ident == "INC-1"
    # Paged (step 1, the payments primary) and escalated when nobody answered (to Priya Raman, the last step).
    wait_until(lambda: any("Priya Raman" in json.dumps(r.card) for r in workflow.delivered()), timeout=30)
    paged = [r.card for r in workflow.delivered()]
    assert all(text.startswith("DRILL · INC-1 · SEV2 · ") for text in headings(workflow))
    assert "Tim Jones" in json.dumps(paged[0]) and len(paged) >= 2

    replies = [
        say(f"{api}/teams", "ack INC-1"),
        say(f"{api}/teams", "role INC-1 commander Tim Jones"),
        say(f"{api}/teams", "update INC-1 investigating Checkout is slow for some customers. Next update in 30 min"),
        say(f"{api}/teams", "component INC-1 major Checkout"),
    ]
    assert all(reply["text"].startswith("**DRILL** · **INC-1**") for reply in replies), replies
    assert "a drill's update is a draft: never published." in replies[2]["text"]
    assert replies[3]["text"].endswith("set Checkout to major outage on the status page (a drill: never published).")
    _, again = fire_drill(api, "--resolve", instance)  # the drill alert resolves: monitoring
    assert again == ident
    resolved = say(f"{api}/teams", "resolve INC-1 Chaos Day over")
    assert resolved["text"].startswith("**DRILL** · **INC-1**")
    wait_until(lambda: any("Resolved" in json.dumps(r.card) for r in workflow.delivered()), timeout=30)
    wait_until(lambda: settled(storage_account), timeout=30)

    # Every card said DRILL; acknowledged, commander and resolved cards went out as for any incident.
    assert all(text.startswith("DRILL · INC-1 · SEV2 · ") for text in headings(workflow))
    kinds = [r.card["body"][0]["items"][1]["text"] for r in workflow.delivered()]
    assert {"Paging", "Acknowledged", "Role", "Resolved"} <= set(kinds), kinds
    # The public site, the metrics and Boards are as they were.
    assert web_blobs(storage_account) == site_before
    assert metrics(api, window) == metrics_before
    assert boards.work_items() == []

    incident = get(f"{api}/incidents/INC-1").json()
    assert (incident["drill"], incident["status"]) == (True, "resolved")
    timeline = incident["timeline"]
    first_update = next(event["at"] for event in timeline if event["kind"] == "update.posted")
    commander = next(event["at"] for event in timeline if event["kind"] == "role.assigned")
    report = get(f"{api}/incidents/INC-1/drill")
    assert report.status_code == 200
    assert report.json() == {
        "incident": "INC-1",
        "drill": True,
        "detected_at": incident["detected_at"],
        "until": incident["resolved_at"],
        "time_to_acknowledge_seconds": seconds(incident["acknowledged_at"], incident["detected_at"]),
        "time_to_first_update_draft_seconds": seconds(first_update, incident["detected_at"]),
        "roles_filled": [
            {
                "role": "commander",
                "person": "Tim Jones",
                "at": commander,
                "after_seconds": seconds(commander, incident["detected_at"]),
            }
        ],
        "roles_missing": ["comms", "scribe"],
        "silences": [],  # the whole drill took seconds
        "silence_threshold_seconds": 600.0,
    }

    # The control: a real incident through the same parts reaches the site, Boards and the metrics.
    declared = requests.post(
        f"{api}/incidents",
        json={"title": "Checkout is failing", "severity": 2, "reporter": "Ana", "service": "checkout"},
        headers={"x-functions-key": KEY},
        timeout=30,
    )
    assert declared.status_code == 201 and declared.json()["drill"] is False
    say(f"{api}/teams", "ack INC-2")
    say(f"{api}/teams", "resolve INC-2 fixed")
    wait_until(lambda: metrics(api, window) != metrics_before, timeout=30)
    wait_until(lambda: web_blobs(storage_account) != site_before, timeout=30)
    wait_until(lambda: len(boards.work_items()) == 1, timeout=30)
    assert get(f"{api}/incidents/INC-2/drill").status_code == 404


def test_a_drill_declared_through_the_api_or_teams_is_a_drill_from_its_first_event(drill_day, caplog):
    api, _, _ = drill_day
    caplog.set_level(logging.INFO, logger="firebell")
    body = {"title": "Game day: checkout", "severity": 3, "reporter": "Ana", "service": "checkout", "drill": True}
    declared = requests.post(f"{api}/incidents", json=body, headers={"x-functions-key": KEY}, timeout=30)
    assert (declared.status_code, declared.json()["drill"]) == (201, True)
    started = say(f"{api}/teams", "drill 2 Payments game day")
    assert started["text"].startswith("**DRILL** · **INC-2** [SEV2] drill started by Tim Jones: Payments game day.")
    listed = say(f"{api}/teams", "list")
    assert "DRILL **INC-1**" in listed["text"] and "DRILL **INC-2**" in listed["text"]
    for ident in ("INC-1", "INC-2"):
        document = get(f"{api}/incidents/{ident}").json()
        assert document["drill"] is True and document["timeline"][0]["text"].startswith("DRILL · Declared by")
    refused = requests.post(
        f"{api}/incidents", json={**body, "drill": "yes"}, headers={"x-functions-key": KEY}, timeout=30
    )
    assert (refused.status_code, refused.json()["detail"]) == (400, "drill must be true or false, got 'yes'")
    guest = say(f"{api}/teams", "drill 1 Everything", name="Somebody Else")
    assert guest["text"] == (
        "Only people listed in people.toml may `drill`; Somebody Else is not in people.toml. Nothing was changed."
    )
    assert get(f"{api}/incidents/INC-3").status_code == 404
    report = get(f"{api}/incidents/INC-2/drill").json()
    assert (report["time_to_acknowledge_seconds"], report["roles_filled"]) == (None, [])
    # Their log lines carry the drill dimension; a command that changed no drill has none.
    logged = [(r.name, getattr(r, "command", None), getattr(r, "drill", None)) for r in caplog.records]
    assert ("firebell.incidents", None, True) in logged and ("firebell.teams", "drill", True) in logged
    assert ("firebell.teams", "listincidents", None) in logged
    assert get(f"{api}/incidents/nope/drill").status_code == 400
