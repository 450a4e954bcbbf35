"""The queues are named in one place, and the delivery count the flows treat as the last is host.json's."""

from __future__ import annotations

import json

from devhost.catalog import discover
from shared.core.queues import MAX_DEQUEUE_COUNT, QUEUES, poison
from tests.conftest import ROOT


def test_the_last_delivery_is_the_one_host_json_will_not_retry():
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensions"]["queues"]["maxDequeueCount"] == MAX_DEQUEUE_COUNT


def test_every_queue_the_app_binds_is_one_of_the_named_queues_and_every_named_queue_is_bound():
    import function_app

    bindings = [binding for spec in discover(function_app.app) for binding in (spec.trigger, *spec.outputs)]
    triggered = {b["queueName"] for b in bindings if b["type"] == "queueTrigger"}
    written = {b["queueName"] for b in bindings if b["type"] == "queue"}
    assert triggered == set(QUEUES)  # each queue has its consumer
    # No queue output bindings: the host answers 500 when one fails after the function returned, which Azure Monitor
    # never retries; every message goes through the SDK, where a failure is the function's to answer.
    assert written == set()


def test_a_poison_queue_is_the_queue_name_with_the_hosts_suffix():
    assert [poison(queue) for queue in QUEUES] == [
        "statuspage-poison",
        "notifications-poison",
        "workitems-poison",
        "escalations-poison",
        "readiness-poison",
        "postmortems-poison",
        "channels-poison",
        "contacts-poison",
    ]
