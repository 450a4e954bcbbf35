"""Recent: a bounded memory of facts, the oldest forgotten first."""

from __future__ import annotations

import pytest

from shared.core.recent import Recent


def test_a_fact_remembered_is_recalled_and_one_never_remembered_is_not():
    facts: Recent[str] = Recent(3)
    facts.remember("alert-fired-a", "INC-1")
    assert (facts.recall("alert-fired-a"), facts.recall("alert-fired-b")) == ("INC-1", None)


def test_past_its_bound_the_oldest_fact_is_forgotten_first():
    facts: Recent[int] = Recent(2)
    for number, key in enumerate(("a", "b", "c")):
        facts.remember(key, number)
    assert [facts.recall(key) for key in ("a", "b", "c")] == [None, 1, 2]
    assert len(facts) == 2


def test_remembering_a_fact_again_keeps_one_copy_with_the_latest_value():
    facts: Recent[int] = Recent(2)
    facts.remember("a", 1)
    facts.remember("a", 2)
    facts.remember("b", 3)
    assert (facts.recall("a"), facts.recall("b"), len(facts)) == (2, 3, 2)


def test_a_memory_of_nothing_is_refused():
    with pytest.raises(ValueError):
        Recent(0)
