"""A bounded memo for one process, least recently used out: for answers that depend on
nothing but their key (the contract's digest among it), which the runs of one process (a
test suite, the pytest plugin, `contracts diff`) ask for again and again.

    >>> memo = Memo(limit=2)
    >>> memo.put("a", 1); memo.put("b", 2); memo.get("a"); memo.put("c", 3)
    1
    >>> sorted(memo)  # "b" was the least recently used
    ['a', 'c']
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """At most `limit` in total of `cost(key)` (1 per entry by default); an entry that alone
    costs more is not kept. Safe to use from several threads. Values are shared: only read them."""

    def __init__(self, limit: int, cost: Callable[[K], int] = lambda key: 1):
        self.limit, self.cost = limit, cost
        self.total = 0
        self._entries: dict[K, V] = {}  # oldest use first
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.pop(key, None)
            if value is not None:
                self._entries[key] = value  # now the most recently used
            return value

    def put(self, key: K, value: V) -> None:
        size = self.cost(key)
        with self._lock:
            if key in self._entries or size > self.limit:
                return
            while self._entries and self.total + size > self.limit:
                oldest = next(iter(self._entries))
                del self._entries[oldest]
                self.total -= self.cost(oldest)
            self._entries[key] = value
            self.total += size

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._entries))
