"""host.json: the queue and HTTP settings the devhost honours, with the Functions host's defaults."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


def timespan_seconds(value: str) -> float:
    """'hh:mm:ss' (optionally 'd.hh:mm:ss' or with fractional seconds) → seconds."""
    days = 0
    if "." in value.split(":")[0]:
        day_text, value = value.split(".", 1)
        days = int(day_text)
    hours, minutes, seconds = value.split(":")
    return days * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueOptions:
    batch_size: int = 16
    new_batch_threshold: int = 8  # fetch more once this few are still running (the host's default: batchSize / 2)
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0  # delay before a failed message is retried
    max_polling_interval: float = 60.0
    message_encoding: str = "base64"


@dataclass(frozen=True)
class HostOptions:
    queues: QueueOptions
    route_prefix: str = "api"
    function_timeout: float = 300.0


def load_host_options(path: Path) -> HostOptions:
    document = json.loads(path.read_text(encoding="utf-8"))
    extensions = document.get("extensions", {})
    queues = extensions.get("queues", {})
    defaults = QueueOptions()
    batch_size = int(queues.get("batchSize", defaults.batch_size))
    return HostOptions(
        queues=QueueOptions(
            batch_size=batch_size,
            new_batch_threshold=int(queues.get("newBatchThreshold", batch_size // 2)),
            max_dequeue_count=int(queues.get("maxDequeueCount", defaults.max_dequeue_count)),
            visibility_timeout=timespan_seconds(queues.get("visibilityTimeout", "00:00:00")),
            max_polling_interval=timespan_seconds(queues.get("maxPollingInterval", "00:01:00")),
            message_encoding=queues.get("messageEncoding", defaults.message_encoding).lower(),
        ),
        route_prefix=extensions.get("http", {}).get("routePrefix", "api"),
        function_timeout=timespan_seconds(document.get("functionTimeout", "00:05:00")),
    )
