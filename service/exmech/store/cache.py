"""Answers cached by (query, dataset parameters, format, generation).

The generation is part of the key, so any write makes every older entry unreachable; they
age out of the LRU. Wraps any Store.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict

from exmech.store import Answer, Query, Store


class AnswerCache:
    """A thread-safe LRU in front of ``store.query``."""

    def __init__(self, store: Store, entries: int) -> None:
        self.store = store
        self.entries = entries
        self._lru: OrderedDict[tuple[object, ...], Answer] = OrderedDict()
        self._lock = threading.Lock()

    def query(self, query: Query) -> Answer:
        if self.entries <= 0:
            return self.store.query(query)
        key = (
            query.text,
            query.default_graphs,
            query.named_graphs,
            query.substitutions,
            query.media_type,
            query.max_rows,
            self.store.generation,
        )
        with self._lock:
            hit = self._lru.get(key)
            if hit is not None:
                self._lru.move_to_end(key)
                return dataclasses.replace(hit, cached=True)
        answer = self.store.query(query)
        if answer.generation == key[-1]:
            with self._lock:
                self._lru[key] = answer
                while len(self._lru) > self.entries:
                    self._lru.popitem(last=False)
        return answer
