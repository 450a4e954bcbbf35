"""Text fields of JSON bodies: trimmed, bounded, and free of characters no page, feed or table can carry."""

from __future__ import annotations

import pytest

from shared.core.errors import InvalidInput
from shared.core.json_body import text_field


def test_a_text_field_is_trimmed_and_keeps_line_breaks_and_tabs():
    assert text_field({"name": "  Database upgrade\n\tphase 2 "}, "name", 100) == "Database upgrade\n\tphase 2"
    assert text_field({"name": "Windows\r\nline breaks\r\n"}, "name", 100) == "Windows\nline breaks"


def test_bidi_controls_are_removed_not_refused_because_keyboards_for_rtl_scripts_type_them():
    assert text_field({"name": "\u05e9\u05dc\u05d5\u05dd\u200f (DB)"}, "name", 100) == "\u05e9\u05dc\u05d5\u05dd (DB)"
    assert text_field({"name": "INC-7 \u202edevlos\u202c"}, "name", 100) == "INC-7 devlos"
    assert text_field({}, "description", 100, required=False) == ""


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("bell\x07", "name contains the control character U+0007"),
        ("nul\x00", "name contains the control character U+0000"),
        ("half \ud800 pair", "name contains U+D800 (a lone surrogate)"),
        ("not xml \ufffe", "name contains U+FFFE (a non-character)"),
        ("plane 16 \U0010ffff", "name contains U+10FFFF (a non-character)"),
        ("c1 \x85", "name contains the control character U+0085"),
        ("lone cr\r", "name contains the control character U+000D"),
        ("\u200f\u202e", r"name must be a non-empty string, got '\u200f\u202e'"),
        ("x" * 101, "name is 101 characters; the limit is 100"),
        ("   ", "name must be a non-empty string, got '   '"),
        (7, "name must be a non-empty string, got 7"),
    ],
)
def test_text_that_cannot_be_published_is_refused_with_what_is_wrong(value, detail):
    with pytest.raises(InvalidInput) as refused:
        text_field({"name": value}, "name", 100)
    assert refused.value.detail == detail
