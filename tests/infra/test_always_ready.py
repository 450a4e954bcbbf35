"""The paging path never starts cold in Azure: the Function App keeps one instance of the `notifications` function
(which posts the first page) and one of the HTTP group (Azure Monitor's /api/alerts, Teams' /api/teams) always
ready, azd can change either, and 0 returns that group to scaling from zero. Read from the Bicep (bicep_model)."""

import ast
import json
import re

import pytest

from tests.infra.bicep_model import FUNCTION_APP, INFRA, MAIN, ROOT, always_ready, parse

PARAMETERS = {  # main.bicep parameter -> the azd environment value that sets it
    "notificationsAlwaysReady": "FIREBELL_NOTIFICATIONS_ALWAYS_READY",
    "httpAlwaysReady": "FIREBELL_HTTP_ALWAYS_READY",
}
AZD_VALUE = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+)=(?P<default>[^}]*)\}$")


def registered_functions() -> dict[str, set[str]]:
    """Every function the app registers, by its function name, with the trigger decorators it carries
    (route, queue_trigger, timer_trigger, …), read from functions/*.py."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "functions").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.FunctionDef):
                continue
            calls = [d for d in node.decorator_list if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)]
            names = [c.args[0].value for c in calls if c.func.attr == "function_name" and c.args]
            if names:
                found[names[0]] = {c.func.attr for c in calls} - {"function_name"}
    return found


def test_the_app_keeps_one_notifications_and_one_http_instance_always_ready_by_default():
    assert always_ready() == {"function:notifications": 1, "http": 1}


def test_each_count_reaches_the_app_and_zero_returns_that_group_to_scaling_from_zero():
    assert always_ready({"notificationsAlwaysReady": 2, "httpAlwaysReady": 3}) == {
        "function:notifications": 2,
        "http": 3,
    }
    assert always_ready({"httpAlwaysReady": 0}) == {"function:notifications": 1}
    assert always_ready({"notificationsAlwaysReady": 0}) == {"http": 1}
    assert always_ready({"notificationsAlwaysReady": 0, "httpAlwaysReady": 0}) == {}


@pytest.mark.parametrize("parameter", sorted(PARAMETERS))
def test_azd_sets_each_count_with_the_template_default_and_negative_counts_are_refused(parameter):
    entry = json.loads((INFRA / "main.parameters.json").read_text())["parameters"][parameter]
    match = AZD_VALUE.match(entry["value"])
    assert match, f"main.parameters.json: {parameter} is not ${{NAME=default}}"
    assert match["name"] == PARAMETERS[parameter]
    for path in (MAIN, FUNCTION_APP):
        declared = parse(path)["parameters"][parameter]
        assert declared["type"] == "int"
        assert declared["default"] == int(match["default"]) == 1
        assert {"type": "min_value", "argument": 0} in declared["decorators"]


def test_the_function_kept_ready_is_the_queue_triggered_notifications_function_the_app_registers():
    functions = registered_functions()
    assert functions["notifications"] == {"queue_trigger"}
    assert functions["alerts"] == {"route"} and functions["teams"] == {"route"}  # the http group serves both
    for group in always_ready():
        if group.startswith("function:"):
            # An HTTP function scales only with the http group: naming one here would keep nothing ready.
            assert functions.get(group.removeprefix("function:"), {"route"}) != {"route"}, group
        else:
            assert group in {"http", "durable", "blob"}, group
