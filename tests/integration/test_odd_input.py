"""Odd input from outside, as a user or an attacker sends it: digits that are not ASCII digits, markup that made the
HTML stripper quadratic, times before 1970, and a configuration file with such a value. Each is a clear 4xx (or a
reported configuration problem) that changes nothing — never a 500, never an app that fails to import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from functions import health
from functions.configuration import Configuration, check_configuration
from shared.core.errors import ConfigurationError, InvalidInput
from shared.teams.activity import MAX_MARKUP, parse_activity
from tests.conftest import AZURE_MONITOR, ROOT, SAMPLES
from tests.integration.test_api_fuzz import stored

KEY = "odd-input-key"
DECLARATION = {"title": "Checkout fails", "severity": 2, "reporter": "Dana", "service": "checkout"}


@pytest.fixture
def api(firebell, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    return firebell


def call(method: str, url: str, **kwargs) -> requests.Response:
    return requests.request(method, url, headers={"x-functions-key": KEY}, timeout=30, **kwargs)


@pytest.mark.parametrize("severity", ["²", "SEV²", "١", "SEV١", "𝟐"])
def test_a_declaration_whose_severity_is_a_non_ascii_digit_is_refused_and_stores_nothing(
    api, storage_account, severity
):
    answer = call("POST", f"{api}/incidents", json={**DECLARATION, "severity": severity})
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_input")
    assert answer.json()["detail"] == f"severity: must be a severity from 1 (worst) to 4, got {severity[-1]!r}"
    assert stored(storage_account.connection_string) == {}


def test_incident_and_maintenance_ids_with_non_ascii_digits_are_not_ids(api):
    assert call("POST", f"{api}/incidents", json=DECLARATION).json()["id"] == "INC-1"
    for path in ("incidents/INC-²", "incidents/INC-١", "maintenances/MNT-²", "maintenances/MNT-١"):
        answer = call("GET", f"{api}/{path}")  # "١" is ARABIC-INDIC DIGIT ONE: int() reads it as 1
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_input"), path
    assert call("GET", f"{api}/incidents/INC-1").status_code == 200


def test_an_alert_fired_before_1970_is_refused_and_leaves_every_incident_readable(api, storage_account):
    """Found by the API fuzz: an alert "fired" in the year 205 opened an incident that the Tables SDK could not read
    back, so listing incidents answered 500 and its page never went out."""
    alert = json.loads((AZURE_MONITOR / "59_test_action_metric_static_threshold.json").read_text())
    alert["data"]["essentials"]["firedDateTime"] = "0205-04-24T14:54:33Z"
    answer = call("POST", f"{api}/alerts", json=alert)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_alert")
    assert "firedDateTime is not an ISO 8601 time (from 1970 on)" in answer.json()["detail"]
    declared = call("POST", f"{api}/incidents", json={**DECLARATION, "detected_at": "0205-04-24T14:54:33Z"})
    assert declared.status_code == 400 and "from 1970 on" in declared.json()["detail"]
    assert stored(storage_account.connection_string) == {}
    assert call("GET", f"{api}/incidents").json() == {"incidents": []}


def _teams_activity(text: str) -> dict:
    document = json.loads((SAMPLES / "teams" / "outgoing_sample.json").read_text())
    document["text"] = text
    return document


@pytest.mark.parametrize("unit", ["<a ", "<a\n", '<a b="', '<a b=">" ', "<a b=1 ", "<!--", "</a"])
def test_a_teams_message_of_32_kb_of_unclosed_tags_is_read_as_its_text(unit: str):
    """The stdlib HTML parser rescanned to the end for each unclosed tag: 32 KB of "<a " took 23 s, and Teams gives
    up after 5 s. Now the stripper reads each character once (bench/markup.py prints the times). What the message
    says is kept as text: too long a command is refused by its length, like any other."""
    markup = "<at>Firebell</at> " + (unit * MAX_MARKUP)[: MAX_MARKUP - 18]
    with pytest.raises(InvalidInput, match=r"^text is \d+ characters after removing markup; the limit is 2000 "):
        parse_activity(_teams_activity(markup))
    if ">" not in unit:  # no tag closes: every character is text
        short = parse_activity(_teams_activity("<at>Firebell</at> note INC-7 " + unit * 3))
        assert short.text == " ".join(f"note INC-7 {unit * 3}".split())


def test_a_teams_message_of_32_kb_of_closed_comments_is_read_as_no_text():
    markup = "<at>Firebell</at> " + "<!--x>" * ((MAX_MARKUP - 18) // 6)
    assert parse_activity(_teams_activity(markup)).text == ""


def test_a_services_toml_with_a_non_ascii_digit_severity_does_not_stop_the_app_from_starting(tmp_path: Path):
    """Before, "²" passed str.isdigit, int() raised ValueError, and importing function_app failed: every function
    down. Now the app imports, the start-up check names file and key, and the routes answer 503 (Azure Monitor
    retries) until the file is fixed."""
    for name in ("people.toml", "oncall.toml", "escalations.toml", "boards.toml"):
        if (ROOT / "config" / name).exists():
            (tmp_path / name).write_text((ROOT / "config" / name).read_text())
    services = (ROOT / "config" / "services.toml").read_text().replace("min_severity = 3", 'min_severity = "²"', 1)
    (tmp_path / "services.toml").write_text(services)
    program = "import json, function_app\nfrom functions import context\nprint(json.dumps(context.check()))\n"
    environment = {
        **os.environ,
        "FIREBELL_CONFIG_DIR": str(tmp_path),
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    }
    finished = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    problems = json.loads(finished.stdout.strip().splitlines()[-1])
    assert f"{tmp_path / 'services.toml'}: default.min_severity: must be a severity from 1 (worst) to 4, got '²'" in (
        problems
    )


def test_with_an_invalid_catalog_the_app_answers_503_and_stores_nothing(
    api, storage_account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
):
    request.addfinalizer(health.forget_verdict)  # its "unhealthy" must not outlive the broken catalog
    for name in ("people.toml", "oncall.toml", "escalations.toml", "boards.toml"):
        if (ROOT / "config" / name).exists():
            (tmp_path / name).write_text((ROOT / "config" / name).read_text())
    services = (ROOT / "config" / "services.toml").read_text().replace("min_severity = 3", 'min_severity = "²"', 1)
    (tmp_path / "services.toml").write_text(services)
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(tmp_path))
    alert = (AZURE_MONITOR / "59_test_action_metric_static_threshold.json").read_bytes()
    answer = call("POST", f"{api}/alerts", data=alert)
    assert (answer.status_code, answer.json()["error"]) == (503, "configuration_invalid")
    health.forget_verdict()  # an earlier test's "healthy" is cached for 30 s in this process (the in-process devhost)
    assert requests.get(f"{api}/health", timeout=30).status_code == 503
    assert stored(storage_account.connection_string) == {}


def test_a_configuration_value_no_check_foresaw_is_reported_as_a_configuration_problem(tmp_path: Path):
    """Defence in depth behind the checks: a loader that fails with anything but ConfigurationError (as "²" did)
    still becomes a reported problem and a 503, never an exception that fails the import or answers 500."""
    config = Configuration(tmp_path)
    with pytest.raises(ConfigurationError, match=r"the catalog configuration could not be loaded \(ValueError\)$"):
        config._once("catalog", lambda: int("²"))
    assert check_configuration(Configuration(tmp_path)) != []  # an empty folder: reported, not raised
