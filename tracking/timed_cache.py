"""A small per-process cache of look-ups: entries expire after a while, and there are never more
than a set number of them (the oldest go first), so a caller sending endless new keys (random
tokens, say) cannot grow the process. Safe to share between a web worker's threads."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
MISSING = object()


class TimedCache(Generic[V]):
    def __init__(self, *, max_entries: int, seconds: Callable[[], float]) -> None:
        self.max_entries = max_entries
        self.seconds = seconds  # read at each look-up: settings may change (tests, reloads)
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | object:
        """The value kept for `key`, or MISSING when there is none or it expired."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return MISSING
            if time.monotonic() - found[0] >= self.seconds():
                del self._entries[key]
                return MISSING
            return found[1]

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
