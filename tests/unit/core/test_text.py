"""The one text policy: what a string from outside may hold before it is stored, sent or published."""

from __future__ import annotations

import json
import unicodedata
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.core.errors import InvalidInput
from shared.core.text import BIDI_CONTROLS, REPLACEMENT, checked, clean, first_unsafe

NONCHARACTERS = [chr(c) for c in range(0xFDD0, 0xFDF0)] + [
    chr(plane << 16 | low) for plane in range(17) for low in (0xFFFE, 0xFFFF)
]
CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]
SURROGATES = [chr(c) for c in range(0xD800, 0xE000)]


def forbidden(char: str, *, multiline: bool) -> bool:
    """The policy, stated independently of the module: what no cleaned text may hold."""
    code = ord(char)
    if multiline and char in "\t\n":
        return False
    return (
        0xD800 <= code <= 0xDFFF
        or 0xFDD0 <= code <= 0xFDEF
        or (code & 0xFFFE) == 0xFFFE
        or unicodedata.category(char) == "Cc"
        or char in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    )


# Ordinary text: letters, marks, numbers, punctuation, symbols (emoji), spaces — including Arabic and Hebrew letters,
# CJK, and the joiners emoji sequences need (U+200D is a format character, not a bidi control).
ORDINARY = st.text(
    st.characters(categories=("L", "M", "N", "P", "S", "Zs")) | st.sampled_from("\u200d\ufe0f"), max_size=200
)
ANYTHING = st.text(
    st.characters(codec=None)  # every code point, lone surrogates included
    | st.sampled_from([*NONCHARACTERS, *BIDI_CONTROLS, *CONTROLS, *SURROGATES[:4], *SURROGATES[-4:]]),
    max_size=200,
)


@given(ANYTHING, st.booleans())
def test_cleaned_text_holds_nothing_the_policy_forbids_and_cleaning_again_changes_nothing(text, multiline):
    cleaned = clean(text, multiline=multiline)
    assert not any(forbidden(char, multiline=multiline) for char in cleaned)
    assert clean(cleaned, multiline=multiline) == cleaned
    assert first_unsafe(cleaned, multiline=multiline) is None
    cleaned.encode("utf-8")  # never raises: no lone surrogate is left


@given(ANYTHING)
def test_cleaned_multiline_text_is_always_valid_xml(text):
    element = ET.Element("content")
    element.text = clean(text, multiline=True)
    parsed = ET.fromstring(ET.tostring(element, encoding="utf-8"))  # noqa: S314 (our own output)
    assert parsed.text in (element.text, None)


@given(ORDINARY, st.booleans())
def test_ordinary_text_emoji_cjk_and_right_to_left_letters_is_unchanged(text, multiline):
    assert clean(text, multiline=multiline) == text
    assert checked(text, "title") == text


@pytest.mark.parametrize(
    "text",
    [
        "Checkout is slow 🔥👩‍💻🏳️‍🌈",
        "数据库连接超时 — データベース",
        "قاعدة البيانات متوقفة",
        "מסד הנתונים לא זמין (DB-7)",
        "Zoë's café, naïve résumé",
        "\ufffd stays: it is the sign that something was replaced",
    ],
)
def test_real_text_in_many_scripts_passes_untouched(text):
    assert clean(text) == text == clean(text, multiline=True) == checked(text, "title")


@pytest.mark.parametrize(
    ("raw", "line", "lines"),
    [
        ("a\ud800b", "a\ufffdb", "a\ufffdb"),
        ("a\udfff\ud83d", "a\ufffd\ufffd", "a\ufffd\ufffd"),
        ("x\ufffe\uffff\ufdd0\U0010ffff", "x\ufffd\ufffd\ufffd\ufffd", "x\ufffd\ufffd\ufffd\ufffd"),
        (
            "bell\x07 nul\x00 del\x7f c1\x9b",
            "bell\ufffd nul\ufffd del\ufffd c1\ufffd",
            "bell\ufffd nul\ufffd del\ufffd c1\ufffd",
        ),
        ("one\ttwo\nthree", "one two three", "one\ttwo\nthree"),
        ("crlf\r\nlone cr\rff\x0cnel\x85", "crlf  lone cr ff nel ", "crlf\nlone cr\nff\nnel\n"),
        ("INC-7 \u202edevlos\u202c", "INC-7 devlos", "INC-7 devlos"),
        ("\u2066\u2067\u2068\u2069\u200e\u200f\u061c", "", ""),
    ],
)
def test_what_cleaning_does_to_each_kind_of_forbidden_character(raw, line, lines):
    assert (clean(raw), clean(raw, multiline=True)) == (line, lines)


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("a\ud800", "title contains U+D800 (a lone surrogate)"),
        ("a\ufffe", "title contains U+FFFE (a non-character)"),
        ("a\U0001ffff", "title contains U+1FFFF (a non-character)"),
        ("a\x1b[31m", "title contains the control character U+001B"),
        ("a\x85", "title contains the control character U+0085"),
        ("a\rb", "title contains the control character U+000D"),
    ],
)
def test_checked_text_is_refused_naming_the_field_and_the_code_point(raw, detail):
    with pytest.raises(InvalidInput) as refused:
        checked(raw, "title")
    assert refused.value.detail == detail


def test_checked_text_keeps_tab_and_newline_takes_crlf_and_drops_bidi_controls():
    assert checked("a\tb\r\nc\u200f", "description") == "a\tb\nc"
    with pytest.raises(InvalidInput, match="U\\+000A"):
        checked("a\nb", "name", multiline=False)


@given(ANYTHING)
def test_checked_either_refuses_or_returns_text_the_policy_allows(text):
    try:
        result = checked(text, "field")
    except InvalidInput as refused:
        assert refused.detail.startswith("field contains ")
        return
    assert clean(result, multiline=True) == result


def test_a_json_body_may_carry_a_lone_surrogate_escape_and_cleaning_makes_it_encodable():
    value = json.loads(b'{"t": "cpu \\ud800 high"}')["t"]  # valid JSON: the decoder accepts it
    with pytest.raises(UnicodeEncodeError):
        value.encode("utf-8")
    assert clean(value).encode("utf-8") == f"cpu {REPLACEMENT} high".encode()
