"""Rows fit Azure Tables: a string property ≤ 64 KiB in UTF-16, an entity ≤ 1 MiB — cut with a marker, never raised."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.core.entity_bounds import (
    MAX_ENTITY_BYTES,
    MAX_PROPERTY_BYTES,
    MAX_PROPERTY_UNITS,
    bounded_entity,
    entity_bytes,
    fit_json,
    fit_text,
    one_transaction,
    units,
)


def utf16_bytes(text: str) -> int:
    return len(text.encode("utf-16-le"))


def test_the_limits_are_azure_tables_limits():
    assert (MAX_PROPERTY_BYTES, MAX_PROPERTY_UNITS, MAX_ENTITY_BYTES) == (65_536, 32_768, 1_048_576)


@pytest.mark.parametrize(
    "text",
    ["x" * 32_768, "漢" * 32_768, "😀" * 16_384, "é" * 32_768],
)
def test_text_of_exactly_64_kib_in_utf16_is_kept_whole(text):
    assert utf16_bytes(text) == 65_536
    assert fit_text(text) is text


def test_one_unit_more_is_cut_to_exactly_the_limit_with_a_marker_that_counts_what_went():
    cut = fit_text("x" * 32_769)
    assert cut == "x" * 32_746 + "… [cut: 23 characters]"
    assert utf16_bytes(cut) == 65_536


def test_an_emoji_counts_two_utf16_units_and_is_never_split():
    text = "😀" * 16_384 + "!"  # 32,769 units
    cut = fit_text(text)
    assert utf16_bytes(cut) <= 65_536
    assert cut == "😀" * 16_373 + "… [cut: 12 characters]"
    cut.encode("utf-8")  # no half of a surrogate pair was left behind


def test_a_cut_never_leaves_a_combining_mark_without_its_letter():
    text = "e\u0301" * 20_000  # é as e + combining acute accent
    cut = fit_text(text, 1000)
    head = cut.partition("…")[0]
    assert head.endswith("\u0301") and len(head) % 2 == 0


def test_cutting_cut_text_again_counts_both_cuts():
    once = fit_text("y" * 50_000)
    twice = fit_text(once, 100)
    assert twice == "y" * 74 + "… [cut: 49,926 characters]"


@given(st.text(max_size=3000), st.integers(min_value=40, max_value=2000))
@settings(max_examples=200)
def test_fit_text_always_fits_and_keeps_a_prefix(text, limit):
    cut = fit_text(text, limit)
    assert units(cut) <= limit
    if cut != text:
        head, _, count = cut.rpartition("… [cut: ")
        assert text.startswith(head) and count == f"{len(text) - len(head):,} characters]"


def test_a_json_property_stays_valid_json_within_the_limit_and_cuts_its_longest_strings_evenly():
    data = {
        "alert": "k",
        "targets": ["/subscriptions/" + "漢" * 1024 for _ in range(20)],  # \\uXXXX escapes: 6 units a character
        "links": [{"label": "Search", "url": "https://portal.azure.com/" + "q" * 4096} for _ in range(5)],
    }
    assert units(json.dumps(data)) > MAX_PROPERTY_UNITS
    stored = fit_json(data)
    assert units(stored) <= MAX_PROPERTY_UNITS
    back = json.loads(stored)
    assert back["alert"] == "k" and len(back["targets"]) == 20 and len(back["links"]) == 5
    lengths = {len(target) for target in back["targets"]}
    assert len(lengths) == 1 and all("… [cut: " in target for target in back["targets"])


def test_a_json_property_that_fits_is_serialised_as_json_dumps_does():
    data = {"a": [1, "b"], "c": None}
    assert fit_json(data) == json.dumps(data)


def test_an_entity_keeps_its_keys_and_small_properties_and_every_string_fits():
    entity = {
        "PartitionKey": "INC-1",
        "RowKey": "0001-alert",
        "text": "t" * 100_000,
        "at": datetime(2026, 12, 6, tzinfo=UTC),
        "public": False,
        "severity": 2,
    }
    bounded = bounded_entity(entity, {"data": {"targets": ["x" * 40_000]}})
    assert {k: bounded[k] for k in ("PartitionKey", "RowKey", "at", "public", "severity")} == {
        k: entity[k] for k in ("PartitionKey", "RowKey", "at", "public", "severity")
    }
    assert utf16_bytes(bounded["text"]) <= MAX_PROPERTY_BYTES and bounded["text"].endswith(" characters]")
    assert utf16_bytes(bounded["data"]) <= MAX_PROPERTY_BYTES and json.loads(bounded["data"])["targets"][0][:3] == "xxx"


def test_an_entity_over_1_mib_is_cut_until_it_fits_measured_as_azure_counts():
    entity = {"PartitionKey": "p", "RowKey": "r", **{f"field{n}": "z" * 32_000 for n in range(20)}}
    # 4 + 2 + 2 + 20 × (8 + 2 × 6 or 7 + 4 + 64,000) bytes
    assert entity_bytes(entity) == 8 + sum(8 + 2 * len(f"field{n}") + 4 + 64_000 for n in range(20))
    bounded = bounded_entity(entity, {"list": ["w" * 30_000] * 3})
    assert entity_bytes(bounded) <= MAX_ENTITY_BYTES
    assert all(utf16_bytes(value) <= MAX_PROPERTY_BYTES for value in bounded.values())
    json.loads(bounded["list"])


def test_an_entity_that_fits_is_unchanged():
    entity = {"PartitionKey": "p", "RowKey": "r", "title": "Checkout down", "n": 3}
    assert bounded_entity(entity) == entity


def test_a_transaction_of_up_to_100_operations_passes_and_more_is_a_defect_said_plainly():
    operations = [("upsert", {"PartitionKey": "p", "RowKey": str(n)}) for n in range(101)]
    assert one_transaction(operations[:100]) == operations[:100]
    with pytest.raises(ValueError, match=r"^101 operations; one Azure Tables transaction takes 100$"):
        one_transaction(operations)
