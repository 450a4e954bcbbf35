"""RecentKeys: a bounded memory of keys, the oldest forgotten first."""

from __future__ import annotations

import pytest

from shared.core.recent import RecentKeys


def test_a_key_added_is_remembered_and_one_never_added_is_not():
    keys = RecentKeys(3)
    keys.add(("INC-1", "e1"))
    assert ("INC-1", "e1") in keys
    assert ("INC-1", "e2") not in keys


def test_past_its_bound_the_oldest_key_is_forgotten_first():
    keys = RecentKeys(2)
    for key in ("a", "b", "c"):
        keys.add(key)
    assert [key in keys for key in ("a", "b", "c")] == [False, True, True]
    assert len(keys) == 2


def test_adding_a_key_again_keeps_one_copy():
    keys = RecentKeys(2)
    keys.add("a")
    keys.add("a")
    keys.add("b")
    assert ("a" in keys, "b" in keys, len(keys)) == (True, True, 2)


def test_a_memory_of_nothing_is_refused():
    with pytest.raises(ValueError):
        RecentKeys(0)
