"""Property: whatever Azure Monitor (or an attacker) sends, POST /api/alerts answers 202, 400 or 413 — never a 500 —
a refused body stores nothing, and an accepted one stores only text the text policy allows, within Azure Tables'
limits. Real samples are mutated at random paths and sent to the function itself."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from functions.alerts import receive
from shared.core.entity_bounds import MAX_ENTITY_BYTES, MAX_PROPERTY_BYTES, entity_bytes
from shared.core.text import first_unsafe
from tests.conftest import AZURE_MONITOR

SAMPLES = [
    json.loads(path.read_text())
    for path in sorted(AZURE_MONITOR.glob("[0-9][0-9]_*.json"))
    if "alertContext" not in path.name
]
# Huge strings and long lists too: they are what could push a stored row past Azure Tables' 64 KB property limit.
BIG_TEXT = st.sampled_from([2_000, 40_000, 70_000]).map(lambda n: "x" * n) | st.sampled_from(
    ["漢" * 12_000, "😀" * 20_000]  # 6 and 12 units a character once escaped in a JSON property
)
# Every code point, lone surrogates included, and the ones the text policy is about.
ODD_TEXT = st.text(
    st.characters(codec=None) | st.sampled_from("\ud800\udfff\ufffe\uffff\U0010ffff\ufdd0\u202e\u2066\x00\x85\x1b"),
    max_size=40,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40) | ODD_TEXT | BIG_TEXT,
    lambda inner: st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
TABLES = ("incidents", "timeline", "alerts")


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
    # A fresh alert id each time: storage outlives the examples, and a repeat would only be deduplicated.
    document["data"]["essentials"]["alertId"] = f"/providers/Microsoft.AlertsManagement/alerts/{draw(st.uuids())}"
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(document)))
        document = _mutate(document, path, draw(JSON_VALUES), draw(st.booleans()))
    data = document.get("data") if isinstance(document, dict) else None
    essentials = data.get("essentials") if isinstance(data, dict) else None
    if draw(st.booleans()) and isinstance(essentials, dict):
        # Aim at the fields that are stored: oversized values there must be cut, not passed on to storage.
        name = draw(st.sampled_from(["alertTargetIDs", "configurationItems", "alertRule", "description", "alertId"]))
        big = draw(BIG_TEXT)
        document["data"]["essentials"][name] = (
            [big] * draw(st.integers(1, 3)) if name.endswith(("IDs", "Items")) else big
        )
    text = json.dumps(document).encode()
    if draw(st.integers(0, 9)) == 0:  # sometimes not even JSON: cut it short
        text = text[: draw(st.integers(0, len(text)))]
    return text


def _oversized_targets() -> bytes:
    document = json.loads((AZURE_MONITOR / "59_test_action_metric_static_threshold.json").read_text())
    document["data"]["essentials"]["alertTargetIDs"] = ["/subscriptions/s/" + "x" * 40_000]
    return json.dumps(document).encode()


def _rows(account) -> list[dict]:
    return [entity for name in TABLES for entity in account.table(name).list_entities()]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies())
@example(body=_oversized_targets())  # found by review: once a 500, as the stored alert row exceeded 64 KB
def test_mutated_samples_never_get_a_500_and_refusals_store_nothing(storage_account, body):
    before = len(_rows(storage_account))
    request = func.HttpRequest("POST", "http://localhost/api/alerts", body=body, headers={})
    answer = receive(request)
    assert answer.status_code in (202, 400, 413), answer.get_body()
    if answer.status_code != 202:
        error = json.loads(answer.get_body())
        assert set(error) == {"error", "detail"} and error["detail"]
        assert len(_rows(storage_account)) == before
        return
    for row in _rows(storage_account):  # Azurite does not enforce Azure's limits: measure as Azure counts
        assert entity_bytes(row) <= MAX_ENTITY_BYTES
        for value in row.values():
            if isinstance(value, str):
                assert len(value.encode("utf-16-le")) <= MAX_PROPERTY_BYTES and first_unsafe(value) is None
