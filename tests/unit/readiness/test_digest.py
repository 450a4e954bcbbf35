"""A month's digest packs its incidents' summaries into binary properties of at most 64 KiB and gives them back
unchanged; a month too large for one row is refused rather than cut short."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.readiness import digest
from shared.readiness.summary import summarise
from tests.unit.readiness.test_summary import CHECKOUT, PEOPLE, night_in_sydney


def _summary():
    history = night_in_sydney()
    return summarise(history.incident, history.timeline, CHECKOUT, PEOPLE)


def test_summaries_come_back_from_a_digest_exactly():
    one = _summary()
    entries = {f"INC-{n}": digest.entry(replace(one, incident_id=f"INC-{n}")) for n in range(1, 4)}
    back = sorted(digest.summaries(digest.pack(entries)), key=lambda summary: summary.incident_id)
    assert back == [replace(one, incident_id=f"INC-{n}") for n in range(1, 4)]
    assert digest.unpack(digest.pack({})) == {}


def test_a_large_month_spreads_over_several_properties_and_one_too_large_is_refused(monkeypatch):
    one = _summary()
    entries = {f"INC-{n}": digest.entry(replace(one, incident_id=f"INC-{n}", events=n)) for n in range(3000)}
    monkeypatch.setattr(digest, "CHUNK", 4096)  # small chunks, so a test-sized month needs several
    packed = digest.pack(entries)
    assert len(packed) > 1 and all(len(chunk) <= 4096 for chunk in packed.values())
    assert len(list(digest.summaries(packed))) == 3000
    monkeypatch.setattr(digest, "MAX_CHUNKS", 1)
    with pytest.raises(digest.MonthTooLarge):
        digest.pack(entries)
