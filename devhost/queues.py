"""Queue triggers: poll a storage queue as the Functions host does, honouring host.json.

Up to `batchSize` messages are fetched at once, and more as soon as no more than `newBatchThreshold` are still
running, so one slow message never holds up the queue behind it. Failed messages become visible again after
`visibilityTimeout`; after `maxDequeueCount` attempts a message is moved to `<queue>-poison`. Empty polls back off
exponentially up to `maxPollingInterval`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as TriggerMessage
from azure.storage.queue import QueueClient, QueueMessage

from devhost.catalog import FunctionSpec, resolve_setting
from devhost.hostjson import QueueOptions
from devhost.invoker import Invoker
from shared.core.queues import poison
from shared.core.storage import STORAGE_SETTING

log = logging.getLogger("devhost")
_FIRST_POLL_DELAY = 0.1


class QueueListener:
    def __init__(
        self,
        spec: FunctionSpec,
        invoker: Invoker,
        options: QueueOptions,
        stopping: threading.Event,
        lease_seconds: float,
    ) -> None:
        self.spec = spec
        self.invoker = invoker
        self.options = options
        self.stopping = stopping
        self.lease_seconds = max(1, int(lease_seconds))
        self.queue_name = resolve_setting(spec.trigger["queueName"])
        account = invoker.account(spec.trigger.get("connection") or STORAGE_SETTING)
        # Raw clients: the listener decodes itself, so one malformed message cannot break a whole batch.
        self.queue: QueueClient = account.queue(self.queue_name, encoding="none")
        self.poison: QueueClient = account.queue(poison(self.queue_name), encoding="none")
        # Never more running than a fetch can make: a fetched message always has a worker, so its lease runs while
        # it is processed, not while it waits.
        self.most_running = options.batch_size + options.new_batch_threshold
        self.workers = ThreadPoolExecutor(max_workers=self.most_running, thread_name_prefix=f"queue-{spec.name}")
        self.running = 0
        self.finished = threading.Condition()
        self.thread = threading.Thread(target=self.run, name=f"listener-{spec.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self) -> None:
        self.thread.join()
        self.workers.shutdown(wait=True)

    def run(self) -> None:
        delay = _FIRST_POLL_DELAY
        while not self.stopping.is_set():
            try:
                batch = list(
                    self.queue.receive_messages(
                        messages_per_page=self.options.batch_size,
                        max_messages=self.options.batch_size,
                        visibility_timeout=self.lease_seconds,
                    )
                )
            except AzureError as error:
                log.warning("queue %s: storage unavailable (%s); retrying", self.queue_name, type(error).__name__)
                batch = []
            if batch:
                delay = _FIRST_POLL_DELAY
                with self.finished:
                    self.running += len(batch)
                for message in batch:
                    self.workers.submit(self.process_safely, message)
                with self.finished:
                    self.finished.wait_for(lambda: self.running <= self.options.new_batch_threshold)
            else:
                self.stopping.wait(delay)
                delay = min(delay * 2, self.options.max_polling_interval)

    def process_safely(self, message: QueueMessage) -> None:
        # A storage error while settling one message must not end the listener: the lease expires, it comes back.
        try:
            self.process(message)
        except Exception:
            log.exception("queue %s: message %s could not be settled", self.queue_name, message.id)
        finally:
            with self.finished:
                self.running -= 1
                self.finished.notify_all()

    def process(self, message: QueueMessage) -> None:
        if message.dequeue_count > self.options.max_dequeue_count:
            self.move_to_poison(message, "dequeued more often than maxDequeueCount")
            return
        try:
            body = self.decode(message.content)
        except ValueError as error:
            self.move_to_poison(message, f"undecodable message: {error}")
            return
        trigger = TriggerMessage(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            pop_receipt=message.pop_receipt,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
        )
        try:
            self.invoker.invoke(self.spec, trigger)
        except Exception as error:
            self.after_failure(message, error)
            return
        self.settle(message)

    def decode(self, content: str) -> bytes:
        if self.options.message_encoding != "base64":
            return content.encode()
        try:
            return base64.b64decode(content, validate=True)
        except binascii.Error as error:
            raise ValueError(f"not base64 ({error})") from None

    def after_failure(self, message: QueueMessage, error: Exception) -> None:
        if message.dequeue_count >= self.options.max_dequeue_count:
            self.move_to_poison(message, f"failed {message.dequeue_count} times, last: {error!r}")
            return
        log.warning(
            "function=%s message=%s attempt=%d failed: %r; retry in %.0f s",
            self.spec.name,
            message.id,
            message.dequeue_count,
            error,
            self.options.visibility_timeout,
        )
        with contextlib.suppress(AzureError):  # if this fails, the lease runs out and the message comes back anyway
            self.queue.update_message(
                message, pop_receipt=message.pop_receipt, visibility_timeout=int(self.options.visibility_timeout)
            )

    def move_to_poison(self, message: QueueMessage, reason: str) -> None:
        log.error(
            "function=%s message=%s moved to %s: %s",
            self.spec.name,
            message.id,
            poison(self.queue_name),
            reason,
        )
        self.poison.send_message(message.content)
        self.settle(message)

    def settle(self, message: QueueMessage) -> None:
        with contextlib.suppress(ResourceNotFoundError):  # the lease expired and another attempt took it
            self.queue.delete_message(message, pop_receipt=message.pop_receipt)
