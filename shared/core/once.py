"""What a process must hold exactly one of per key (a storage account, its stores, the status page publisher, the
Workflows sender): built once even when many threads ask for it first at the same moment. `functools.cache` lets
every caller that misses build its own — a burst of first queue messages did, and each status page publisher then
rendered on its own, losing its claims to the others (PublishContention)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class OnePerKey(Generic[T]):
    def __init__(self, build: Callable[..., T]) -> None:
        self._build = build
        self._built: dict[tuple[Hashable, ...], T] = {}
        self._lock = threading.Lock()
        functools.update_wrapper(self, build)

    def __call__(self, *key: Hashable) -> T:
        found = self._built.get(key)  # the common case: built already, no lock
        if found is not None:
            return found
        with self._lock:
            if key not in self._built:
                self._built[key] = self._build(*key)
            return self._built[key]

    def cache_clear(self) -> None:
        """Forget what was built (tests point the process at other storage or settings between cases)."""
        with self._lock:
            self._built.clear()


def one_per_key(build: Callable[..., T]) -> OnePerKey[T]:
    return OnePerKey(build)
