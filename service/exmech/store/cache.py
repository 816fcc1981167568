"""Answers cached by (query, dataset parameters, format, generation), and the LRU behind them.

The generation is part of the key, so any write makes every older entry unreachable; they
age out of the LRU. ``AnswerCache`` wraps any Store: ``query`` keeps serialized answers (for
``/sparql``), ``execute`` parsed ``Results`` (for exmech's own pages and API), each weighed by
its size in memory. The cache holds at most ``entries`` answers and ``max_bytes`` of them,
whichever fills first.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from exmech.store import Answer, Query, Results, Store

Key = tuple[object, ...]
V = TypeVar("V")
A = TypeVar("A", Answer, Results)
PARSED = "parsed"  # the "media type" of a parsed answer in a cache key
# Parsed terms take about 8 times the memory of the TSV they were read from (measured: 50,000
# rows of 4 terms, 4.0 MB of TSV, 33 MB of process memory), so they weigh that much more.
PARSED_WEIGHT = 8


class LRU(Generic[V]):
    """A thread-safe least-recently-used map bounded by entries and by total weight.

    >>> lru = LRU[bytes](entries=2, max_bytes=10, weigh=len)
    >>> lru.put("a", b"12345"); lru.put("b", b"123"); lru.put("c", b"1234")
    >>> lru.get("a"), lru.get("b"), len(lru)
    (None, b'123', 2)
    """

    def __init__(self, entries: int, max_bytes: int, weigh: Callable[[V], int]) -> None:
        self.entries = entries
        self.max_bytes = max_bytes
        self.weigh = weigh
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: Hashable, value: V) -> None:
        """Keep ``value``, evicting the least recently used; one heavier than the whole
        budget is not kept."""
        weight = self.weigh(value)
        if self.entries <= 0 or weight > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= self.weigh(old)
            self._items[key] = value
            self._bytes += weight
            while len(self._items) > self.entries or self._bytes > self.max_bytes:
                _key, evicted = self._items.popitem(last=False)
                self._bytes -= self.weigh(evicted)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def cache_key(query: Query, generation: str, media_type: str | None = None) -> Key:
    """Everything that can change an answer: text, dataset, bindings, format, cap."""
    return (
        query.text,
        query.form,
        query.default_graphs,
        query.named_graphs,
        query.substitutions,
        query.media_type if media_type is None else media_type,
        query.max_rows,
        query.base_iri,
        generation,
    )


class AnswerCache:
    """An LRU in front of ``store.query`` and ``store.execute``; ``.cached`` tells hits apart."""

    def __init__(self, store: Store, entries: int, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.store = store
        self.entries = entries
        self._lru: LRU[Answer | Results] = LRU(entries, max_bytes, _weight)

    @property
    def max_bytes(self) -> int:
        return self._lru.max_bytes

    def query(self, query: Query) -> Answer:
        """The store's serialized answer, from the cache when the same request met the same
        generation."""
        return self._cached(query, None, self.store.query, Answer)

    def execute(self, query: Query) -> Results:
        """The store's parsed answer, cached like ``query`` (parsed once per generation)."""
        return self._cached(query, PARSED, self.store.execute, Results)

    def _cached(
        self, query: Query, media_type: str | None, run: Callable[[Query], A], kind: type[A]
    ) -> A:
        if self.entries <= 0:
            return run(query)
        generation = self.store.generation
        key = cache_key(query, generation, media_type)
        hit = self._lru.get(key)
        if isinstance(hit, kind):
            return dataclasses.replace(hit, cached=True)
        value = run(query)
        if value.generation == generation:
            self._lru.put(key, value)
        return value

    @property
    def generation(self) -> str:
        return self.store.generation

    @property
    def dataset_hash(self) -> str:
        return self.store.dataset_hash

    def __len__(self) -> int:
        return len(self._lru)


def _weight(value: Answer | Results) -> int:
    return len(value.body) if isinstance(value, Answer) else value.size * PARSED_WEIGHT
