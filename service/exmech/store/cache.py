"""Answers cached by (query, dataset parameters, format, generation).

The generation is part of the key, so any write makes every older entry unreachable; they
age out of the LRU. Wraps any Store. The cache holds at most ``entries`` answers and
``max_bytes`` of answer bodies, whichever fills first.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict

from exmech.store import Answer, Query, Store

Key = tuple[object, ...]


def cache_key(query: Query, generation: str) -> Key:
    """Everything that can change an answer's bytes: text, dataset, bindings, format, cap."""
    return (
        query.text,
        query.form,
        query.default_graphs,
        query.named_graphs,
        query.substitutions,
        query.media_type,
        query.max_rows,
        query.base_iri,
        generation,
    )


class AnswerCache:
    """A thread-safe LRU in front of ``store.query``; ``answer.cached`` tells hits apart."""

    def __init__(self, store: Store, entries: int, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.store = store
        self.entries = entries
        self.max_bytes = max_bytes
        self._lru: OrderedDict[Key, Answer] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def query(self, query: Query) -> Answer:
        """The store's answer, from the cache when the same request met the same generation."""
        if self.entries <= 0:
            return self.store.query(query)
        generation = self.store.generation
        key = cache_key(query, generation)
        with self._lock:
            hit = self._lru.get(key)
            if hit is not None:
                self._lru.move_to_end(key)
                return dataclasses.replace(hit, cached=True)
        answer = self.store.query(query)
        if answer.generation == generation and len(answer.body) <= self.max_bytes:
            self._put(key, answer)
        return answer

    def _put(self, key: Key, answer: Answer) -> None:
        with self._lock:
            old = self._lru.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._lru[key] = answer
            self._bytes += len(answer.body)
            while len(self._lru) > self.entries or self._bytes > self.max_bytes:
                _key, evicted = self._lru.popitem(last=False)
                self._bytes -= len(evicted.body)

    def __len__(self) -> int:
        with self._lock:
            return len(self._lru)
