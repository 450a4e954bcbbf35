"""kill -9, small (`make chaos` runs the full storm): both devhost processes are SIGKILLed in the middle of an alert
storm and started again on the same Azurite; Azure Monitor retries what got no answer. Every alert answered 202 is
on an incident that paged."""

from __future__ import annotations

from chaos import kill


def test_every_alert_answered_202_is_on_an_incident_that_paged_after_a_kill_9_and_restart(azurite, storage_account):
    size = kill.SIZES["fast"]
    outcome = kill.measure(size, azurite)

    assert any(answer.answered < outcome.killed for answer in outcome.accepted)  # the kill fell inside the storm
    assert any(answer.answered > outcome.restarted for answer in outcome.accepted)  # … and the storm went on after
    assert len(outcome.accepted) == size.alerts  # every alert answered 202 in the end (retried over the restart)
    assert len(outcome.incidents) == size.groups
    assert outcome.unpaged == []
    assert outcome.all_paged is not None
    assert outcome.poison == 0
    assert kill.broken(outcome) == []
