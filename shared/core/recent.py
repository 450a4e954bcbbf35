"""A bounded, thread-safe memory of recent facts: what a process saw become true and stays true once true, so a
repeat can skip asking storage. Only a cache: forgetting (the oldest fact past the bound, a restart, another instance
that never saw it) costs the requests the answer takes from storage, never a different answer."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Recent(Generic[V]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._facts: dict[Hashable, V] = {}  # insertion order: the first is the oldest
        self._lock = threading.Lock()

    def remember(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._facts[key] = value
            if len(self._facts) > self._capacity:
                del self._facts[next(iter(self._facts))]

    def recall(self, key: Hashable) -> V | None:
        return self._facts.get(key)  # one dict look-up: atomic under the GIL, no lock needed

    def __len__(self) -> int:
        return len(self._facts)
