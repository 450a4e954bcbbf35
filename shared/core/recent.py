"""A bounded, thread-safe memory of recent keys: what a process has seen become true and stays true once true, so a
repeat can skip asking storage. Only a cache: forgetting (the oldest key past the bound, a restart, another
instance that never saw it) costs one request, never a wrong answer."""

from __future__ import annotations

import threading
from collections.abc import Hashable


class RecentKeys:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._keys: dict[Hashable, None] = {}  # insertion order: the first key is the oldest
        self._lock = threading.Lock()

    def add(self, key: Hashable) -> None:
        with self._lock:
            self._keys[key] = None
            if len(self._keys) > self._capacity:
                del self._keys[next(iter(self._keys))]

    def __contains__(self, key: object) -> bool:
        return key in self._keys  # one dict look-up: atomic under the GIL, no lock needed

    def __len__(self) -> int:
        return len(self._keys)
