"""Property: whatever Azure Monitor (or an attacker) sends, POST /api/alerts answers 202, 400 or 413 — never a 500 —
and a refused body stores nothing. Real samples are mutated at random paths and sent to the function itself."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.alerts import receive
from tests.conftest import AZURE_MONITOR

SAMPLES = [
    json.loads(path.read_text())
    for path in sorted(AZURE_MONITOR.glob("[0-9][0-9]_*.json"))
    if "alertContext" not in path.name
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
TABLES = ("incidents", "timeline", "alerts")


class Captured(func.Out[str]):
    def __init__(self) -> None:
        self.value: str | None = None

    def set(self, value: str) -> None:
        self.value = value

    def get(self) -> str | None:
        return self.value


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _paths(item, (*prefix, index))
    return paths


def _mutate(document: Any, path: tuple, replacement: Any, delete: bool) -> Any:
    if not path:
        return replacement
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return document


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    document = json.loads(json.dumps(draw(st.sampled_from(SAMPLES))))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(document)))
        document = _mutate(document, path, draw(JSON_VALUES), draw(st.booleans()))
    text = json.dumps(document).encode()
    if draw(st.integers(0, 9)) == 0:  # sometimes not even JSON: cut it short
        text = text[: draw(st.integers(0, len(text)))]
    return text


def _rows(account) -> int:
    return sum(len(list(account.table(name).list_entities())) for name in TABLES)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies())
def test_mutated_samples_never_get_a_500_and_refusals_store_nothing(storage_account, body):
    before = _rows(storage_account)
    request = func.HttpRequest("POST", "http://localhost/api/alerts", body=body, headers={})
    answer = receive(request, Captured())
    assert answer.status_code in (202, 400, 413), answer.get_body()
    if answer.status_code != 202:
        error = json.loads(answer.get_body())
        assert set(error) == {"error", "detail"} and error["detail"]
        assert _rows(storage_account) == before
