"""The one text policy: what a string from outside may hold before Firebell stores it, sends it or publishes it.

Four kinds of code point never get through:
- lone surrogates (U+D800–DFFF): a JSON escape may carry one, but no UTF-8 encoder accepts it, so a card or a row
  holding one could never be sent or written;
- non-characters (U+FDD0–FDEF and the last two code points of every plane, U+FFFE/U+FFFF …): not meant for
  interchange, and U+FFFE/U+FFFF are not XML characters, so one would make history.atom unreadable;
- control characters (C0, DEL, C1), except tab and newline where the text may span lines;
- bidi controls (U+061C, U+200E/F, U+202A–E, U+2066–9): invisible, yet able to make a line read as another one
  (a reversed "INC-7 resolved"); they carry no words.

What happens to them depends on whether the sender can act on a refusal:
- `clean` never refuses. Surrogates, non-characters and controls become U+FFFD (a visible sign that something was
  there), whitespace controls a space or a line break, bidi controls are removed. For Azure Monitor alerts (Azure
  Monitor does not retry a 400, and the page must go out), Teams activities (a 400 shows the sender only Teams'
  generic "could not reach the bot", and such characters come from the client, not from what was typed) and, as
  the last guard, everything shown (cards, the public site, feeds), for rows stored before this policy.
- `checked` refuses, with InvalidInput naming the field and the code point: the JSON API (declarations,
  maintenances, overrides), whose callers read the 400's detail and can fix their client; storing a silently
  altered declaration would be worse. Bidi controls alone are removed rather than refused: keyboards for
  right-to-left scripts type them.

Pure, and cheap to import (re only): it runs on every request.
"""

from __future__ import annotations

import re

from shared.core.errors import InvalidInput

REPLACEMENT = "\ufffd"
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17)
)
_CONTROLS_BUT_TAB_AND_NEWLINE = "\x00-\x08\x0b-\x1f\x7f-\x9f"
_OTHERS = "\ud800-\udfff" + _NONCHARACTERS + BIDI_CONTROLS
# One pattern for both modes (each compiled pattern costs ~0.6 ms of cold start): tab and newline are told apart
# in the replacement.
_UNSAFE = re.compile(f"[\t\n{_CONTROLS_BUT_TAB_AND_NEWLINE}{_OTHERS}]")
_WITHOUT_BIDI = dict.fromkeys(map(ord, BIDI_CONTROLS))
# Controls that str.splitlines() treats as line breaks: in multi-line text they stay line breaks.
_LINE_BREAKS = frozenset("\r\x0b\x0c\x1c\x1d\x1e\x85")


def clean(text: str, *, multiline: bool = False) -> str:
    """`text` with nothing the policy forbids: never raises, leaves ordinary text (emoji, CJK, Arabic …) alone, and
    cleaning the result again changes nothing. One line unless `multiline` (then tab and newline stay, CR LF and
    the other line-break controls become newlines)."""
    if (text.isascii() and text.isprintable()) or _UNSAFE.search(text) is None:  # the first test: C speed
        return text
    if multiline:
        return _UNSAFE.sub(_in_text, text.replace("\r\n", "\n"))
    return _UNSAFE.sub(_in_line, text)


def first_unsafe(text: str, *, multiline: bool = True) -> str | None:
    """The first character that `checked` refuses (bidi controls and a CR before LF are not refused), or None."""
    if text.isascii() and text.isprintable():
        return None
    for match in _UNSAFE.finditer(text):
        char = match.group()
        if char in BIDI_CONTROLS:
            continue
        if multiline and (char in "\t\n" or (char == "\r" and text.startswith("\n", match.end()))):
            continue
        return char
    return None


def checked(text: str, name: str, *, multiline: bool = True) -> str:
    """`text` without bidi controls, with CR LF as LF; InvalidInput naming `name` when it holds a character that
    cannot be stored or published (a lone surrogate, a non-character, a control character)."""
    unsafe = first_unsafe(text, multiline=multiline)
    if unsafe is not None:
        raise InvalidInput(f"{name} contains {describe(unsafe)}")
    text = text.replace("\r\n", "\n") if multiline else text
    return text if text.isascii() else text.translate(_WITHOUT_BIDI)


def describe(char: str) -> str:
    """'U+D800 (a lone surrogate)': how an error detail names a forbidden character (never the character itself)."""
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"the control character U+{code:04X}"
    if 0xD800 <= code <= 0xDFFF:
        kind = "a lone surrogate"
    elif char in BIDI_CONTROLS:
        kind = "a bidi control"
    else:
        kind = "a non-character"
    return f"U+{code:04X} ({kind})"


def _in_line(match: re.Match[str]) -> str:
    char = match.group()
    if char in BIDI_CONTROLS:
        return ""
    return " " if char.isspace() else REPLACEMENT


def _in_text(match: re.Match[str]) -> str:
    char = match.group()
    if char in BIDI_CONTROLS:
        return ""
    if char in "\t\n":
        return char
    if char in _LINE_BREAKS:
        return "\n"
    return " " if char.isspace() else REPLACEMENT
