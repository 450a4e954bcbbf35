"""Replay a poison queue: move the messages the Functions host gave up on from `<queue>-poison` back to `<queue>`,
once their cause is fixed. The consumers are idempotent, so a message handled before it was poisoned is harmless.

Safe to run twice, or twice at once: each poison message is received (hidden from every other reader for
HOLD_SECONDS, with a pop receipt that proves the hold), copied to the work queue, and only then deleted with that
receipt. A crash between copy and delete leaves the poison message, which a later replay copies again — a duplicate
the consumer does nothing for, never a lost message. A run moves at most the messages present when it began, so a
message that fails again and returns to poison while the run goes on waits for the next replay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from azure.core.exceptions import HttpResponseError

from shared.core.queues import QUEUES, poison
from shared.core.storage import StorageAccount

log = logging.getLogger("firebell.ops")
HOLD_SECONDS = 60  # how long a received poison message stays hidden while it is copied (one send, one delete)
_BATCH = 32  # the most messages one receive request returns
# What deleting with a pop receipt that is no longer ours answers: another reader received the message since (a new
# receipt), or received and deleted it.
_HOLD_LOST = {"PopReceiptMismatch", "MessageNotFound"}


class UnknownQueue(ValueError):
    """A queue name that none of Firebell's consumers reads."""


def queue_named(name: str) -> str:
    """A work queue by its name or its poison twin's; UnknownQueue for anything else."""
    queue = name.strip().lower().removesuffix("-poison")
    if queue not in QUEUES:
        raise UnknownQueue(f"unknown queue {name[:60]!r}; Firebell's queues are {', '.join(QUEUES)}")
    return queue


@dataclass(frozen=True)
class Replay:
    queue: str
    waiting: int  # messages in the poison queue when the run began (approximate: the service counts)
    moved: int = 0  # copied to the work queue and deleted from poison by this run
    copied_twice: int = 0  # copied, but the hold ran out and another replay took it too: a duplicate, harmless


def replay_poison(account: StorageAccount, queue: str, *, dry_run: bool = False) -> Replay:
    """Move `queue`'s poison messages back to `queue` (none with `dry_run`: only count them)."""
    waiting = account.message_count(poison(queue))  # never creates the queue: a dry run changes nothing
    if dry_run or waiting == 0:
        return Replay(queue, waiting)
    # Raw clients on both sides: the content goes back exactly as the host wrote it, base64 or not.
    source = account.queue(poison(queue), encoding="none")
    target = account.queue(queue, encoding="none")
    moved = copied_twice = 0
    while moved + copied_twice < waiting:
        wanted = min(_BATCH, waiting - moved - copied_twice)
        batch = list(
            source.receive_messages(messages_per_page=wanted, max_messages=wanted, visibility_timeout=HOLD_SECONDS)
        )
        if not batch:
            break  # taken by a concurrent replay, or the count was high (it is approximate)
        for message in batch:
            target.send_message(message.content)
            try:
                source.delete_message(message.id, message.pop_receipt)
            except HttpResponseError as error:
                if error.error_code not in _HOLD_LOST:
                    raise
                copied_twice += 1  # our hold ran out and another replay received it: it copies it as well
                log.warning("%s: message %s was copied by another replay too", poison(queue), message.id)
                continue
            moved += 1
    return Replay(queue, waiting, moved, copied_twice)
