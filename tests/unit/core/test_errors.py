"""What a failure says on the timeline and in logs (shared.core.errors.reason)."""

from __future__ import annotations

from shared.core.errors import DependencyUnavailable, reason


def test_a_firebell_error_says_its_own_sentence():
    assert reason(DependencyUnavailable("Graph answered 503")) == "Graph answered 503"


def test_any_other_failure_says_its_type_and_text_cut_at_300_characters():
    assert reason(ConnectionResetError("peer reset")) == "ConnectionResetError: peer reset"
    assert reason(ValueError("x" * 400)) == "ValueError: " + "x" * 288
