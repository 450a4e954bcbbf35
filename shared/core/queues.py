"""The queues Firebell's functions talk through, named in one place, and how often a message is delivered.

Each queue has a `-poison` twin where the Functions host moves a message after its last delivery.
"""

from __future__ import annotations

STATUSPAGE = "statuspage"  # re-render and publish the public status site
NOTIFICATIONS = "notifications"  # change messages responders act on: cards, escalation step 0, then forwarded
WORKITEMS = "workitems"  # change messages Azure Boards tracks
ESCALATIONS = "escalations"  # delayed escalation steps
READINESS = "readiness"  # change messages that may change a resolved incident's readiness summary
POSTMORTEMS = "postmortems"  # change messages that may change an incident's review draft
CHANNELS = "channels"  # change messages an incident's Teams channel follows (made, recorded, archived)
CONTACTS = "contacts"  # a paged person's SMS and voice rule steps, each visible at its due time
QUEUES = (STATUSPAGE, NOTIFICATIONS, WORKITEMS, ESCALATIONS, READINESS, POSTMORTEMS, CHANNELS, CONTACTS)

# host.json extensions.queues.maxDequeueCount: the delivery after which a failing message goes to poison, so the
# one that must say on the timeline what failed (a test keeps the two equal).
MAX_DEQUEUE_COUNT = 5

CONNECTION = "AzureWebJobsStorage"  # the app setting (or setting prefix) every queue binding connects through


def poison(queue: str) -> str:
    return f"{queue}-poison"
