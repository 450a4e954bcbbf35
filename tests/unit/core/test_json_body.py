"""Text fields of JSON bodies: trimmed, bounded, and free of characters no page, feed or table can carry."""

from __future__ import annotations

import pytest

from shared.core.errors import InvalidInput
from shared.core.json_body import text_field


def test_a_text_field_is_trimmed_and_keeps_line_breaks_and_tabs():
    assert text_field({"name": "  Database upgrade\n\tphase 2 "}, "name", 100) == "Database upgrade\n\tphase 2"
    assert text_field({}, "description", 100, required=False) == ""


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("bell\x07", "name contains the control character U+0007"),
        ("nul\x00", "name contains the control character U+0000"),
        ("half \ud800 pair", "name contains the control character U+D800"),
        ("x" * 101, "name is 101 characters; the limit is 100"),
        ("   ", "name must be a non-empty string, got '   '"),
        (7, "name must be a non-empty string, got 7"),
    ],
)
def test_text_that_cannot_be_published_is_refused_with_what_is_wrong(value, detail):
    with pytest.raises(InvalidInput) as refused:
        text_field({"name": value}, "name", 100)
    assert refused.value.detail == detail
