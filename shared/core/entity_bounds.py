"""What fits one Azure Tables entity: text cut to the service's limits with a visible marker, never an exception.

Azure Tables stores strings as UTF-16 and refuses a string property over 64 KiB (32,768 UTF-16 code units: an emoji
takes two), an entity over 1 MiB, and a transaction of more than 100 operations. Rows built from outside text
(alert rows, incidents, timeline events, maintenances, overrides, ledgers) pass `bounded_entity` before they are
written: an oversize write would fail on every retry, and a failed alert write is a page that never goes out.
Text is cut at a code point (never inside a surrogate pair or before a combining mark) and ends with
"… [cut: 12,345 characters]", so a reader sees that something is missing. JSON-valued properties are cut inside
(their longest strings first), so they stay valid JSON.

Pure; sizes follow Azure's published estimate ("Understanding the Table service data model": 4 bytes + 2 × the
key lengths + per property 8 bytes + 2 × the name length + the value's size).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.core.text import clean

MAX_PROPERTY_BYTES = 64 * 1024
MAX_PROPERTY_UNITS = MAX_PROPERTY_BYTES // 2  # UTF-16 code units
MAX_ENTITY_BYTES = 1024 * 1024
MAX_BATCH_OPERATIONS = 100
_KEYS = ("PartitionKey", "RowKey")
_MARKER_HEAD, _MARKER_TAIL = "… [cut: ", " characters]"
_LONGEST_MARKER = len(f"{_MARKER_HEAD}{10**12:,}{_MARKER_TAIL}")  # in units: no count gets that large


def units(text: str) -> int:
    """UTF-16 code units: what Azure Tables counts (surrogatepass: a stray surrogate counts, never raises)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def fit_text(text: str, limit: int = MAX_PROPERTY_UNITS) -> str:
    """`text` unchanged when it fits `limit` UTF-16 units, else its beginning and '… [cut: N characters]'."""
    if len(text) <= limit // 2 or units(text) <= limit:  # the first test: no encoding for short text
        return text
    text, removed = _earlier_cut(text)
    if limit < _LONGEST_MARKER:  # too small for the marker (no caller asks for this): the beginning only
        return text[: _prefix(text, limit)]
    # The marker's count has at most as many digits as the whole text's length: reserve that much, no more.
    keep = _prefix(text, limit - len(_marker(removed + len(text))))
    keep = _prefix(text, limit - len(_marker(removed + len(text) - keep)))  # fewer cut: a count no longer
    while 0 < keep < len(text) and unicodedata.combining(text[keep]):
        keep -= 1  # an accent stays with its letter
    return text[:keep] + _marker(removed + len(text) - keep)


def _marker(count: int) -> str:
    return f"{_MARKER_HEAD}{count:,}{_MARKER_TAIL}"


def _prefix(text: str, budget: int) -> int:
    """How many code points of `text` fit `budget` UTF-16 units."""
    keep = min(len(text), budget)
    while (over := units(text[:keep]) - budget) > 0:
        keep -= (over + 1) // 2  # a code point is one or two units: never cut more than needed
    return keep


def _earlier_cut(text: str) -> tuple[str, int]:
    """Text cut before (its marker removed) and how many characters that cut removed, so a second cut counts both."""
    if text.endswith(_MARKER_TAIL):
        head = text.rfind(_MARKER_HEAD)
        count = text[head + len(_MARKER_HEAD) : -len(_MARKER_TAIL)].replace(",", "")
        if head >= 0 and count.isdigit() and count.isascii():
            return text[:head], int(count)
    return text, 0


def fit_json(value: Any, limit: int = MAX_PROPERTY_UNITS, **dumps: Any) -> str:
    """`json.dumps(value, **dumps)` within `limit` UTF-16 units: the longest strings inside are cut (with the
    marker) until it fits; when only structure is left, the longest list is shortened. Always valid JSON."""
    text = json.dumps(value, **dumps)
    for _ in range(64):  # each round shrinks the largest part; the bound only stops a pathological document
        excess = units(text) - limit
        if excess <= 0:
            return text
        value = _shrunk(value, excess)
        text = json.dumps(value, **dumps)
    return text if units(text) <= limit else json.dumps({} if isinstance(value, dict) else [], **dumps)


def bounded_entity(entity: Mapping[str, Any], json_properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The entity ready to write: every string property within 64 KiB, `json_properties` (name → value) serialised
    within it too, and the whole within 1 MiB — the largest properties are cut further until it fits.

    String properties also pass the text policy (shared.core.text) once more: every entry point applies it, and
    this guard makes a path that forgot fail soft (U+FFFD) instead of failing the write on every retry."""
    bounded = {
        name: fit_text(clean(value, multiline=True)) if isinstance(value, str) and name not in _KEYS else value
        for name, value in entity.items()
    }
    structured = dict(json_properties or {})
    bounded.update({name: fit_json(value, default=str) for name, value in structured.items()})
    for _ in range(len(bounded) + 1):
        excess = entity_bytes(bounded) - MAX_ENTITY_BYTES
        if excess <= 0:
            break
        texts = [n for n in bounded if n not in _KEYS and isinstance(bounded[n], str)]
        if not texts:
            break  # only fixed-size values: nothing to cut (they cannot reach 1 MiB)
        name = max(texts, key=_length_of(bounded))
        limit = max(_LONGEST_MARKER, units(bounded[name]) - (excess + 1) // 2)
        if name in structured:
            bounded[name] = fit_json(structured[name], limit, default=str)
        else:
            bounded[name] = fit_text(bounded[name], limit)
    return bounded


def one_transaction(operations: list[Any]) -> list[Any]:
    """The operations of one Azure Tables transaction, checked against its limit of 100. Firebell's transactions
    hold at most a counter, an incident, its group pointer and the pages one change makes due: far fewer; more
    is a defect, said plainly here rather than as the service's opaque 400."""
    if len(operations) > MAX_BATCH_OPERATIONS:
        raise ValueError(f"{len(operations)} operations; one Azure Tables transaction takes {MAX_BATCH_OPERATIONS}")
    return operations


def entity_bytes(entity: Mapping[str, Any]) -> int:
    """The entity's size as Azure Tables counts it (its published estimate)."""
    size = 4
    for name, value in entity.items():
        if name in _KEYS:
            size += 2 * units(str(value))
        elif name != "etag" and not name.startswith("odata."):
            size += 8 + 2 * len(name) + _value_bytes(value)
    return size


def _value_bytes(value: Any) -> int:
    if isinstance(value, str):
        return 4 + 2 * units(value)
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 4 if -(2**31) <= value < 2**31 else 8
    if isinstance(value, (float, datetime)):
        return 8
    if isinstance(value, (bytes, bytearray)):
        return 4 + len(value)
    return 16  # a GUID, the largest fixed-size type


def _length_of(entity: Mapping[str, Any]) -> Any:
    return lambda name: units(entity[name])


def _shrunk(value: Any, excess: int) -> Any:
    """`value` with its longest strings cut to one common length, so that about `excess` serialised units go and
    every string keeps as much as the others (its longest list is halved when strings cannot give enough)."""
    strings = [(path, text, units(json.dumps(text))) for path, text in _strings(value, ())]
    cap = _water_level([size for _, _, size in strings], excess + len(strings))
    if cap is not None:
        for path, text, size in strings:
            if size > cap:
                # Escapes make a character cost up to 12 serialised units: cut in proportion.
                limit = max(_LONGEST_MARKER, int(cap * units(text) / size))
                value = _replaced(value, path, fit_text(text, min(limit, units(text) - 1)))
        return value
    lists = list(_lists(value, ()))
    if lists:
        path, longest_list = max(lists, key=lambda found: len(found[1]))
        if longest_list:
            return _replaced(value, path, longest_list[: len(longest_list) // 2])
    return {} if isinstance(value, dict) else []


def _water_level(sizes: list[int], excess: int) -> int | None:
    """The largest cap such that cutting every size above it to it saves at least `excess`; None when cutting
    every string to a marker's length would not."""
    floor = 2 * _LONGEST_MARKER  # a cut string keeps at least its marker (escaped, it may double)
    ordered = sorted((size for size in sizes if size > floor), reverse=True)
    saved = 0
    for index, size in enumerate(ordered):
        following = ordered[index + 1] if index + 1 < len(ordered) else floor
        # Lowering the cap from `size` to `following` saves (size - following) on each of the index + 1 longest.
        if saved + (size - following) * (index + 1) >= excess:
            return size - -(-(excess - saved) // (index + 1))  # ceiling division
        saved += (size - following) * (index + 1)
    return None


def _strings(value: Any, path: tuple[Any, ...]) -> Any:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _lists(value: Any, path: tuple[Any, ...]) -> Any:
    if isinstance(value, (list, tuple)):
        yield path, list(value)
        for index, item in enumerate(value):
            yield from _lists(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _lists(item, (*path, key))


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    items = list(value)
    items[head] = _replaced(items[head], rest, new)
    return items
