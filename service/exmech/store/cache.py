"""The app's one answer cache, and the LRU behind it.

One LRU per app, bounded by entries (``EXMECH_CACHE_ENTRIES``) and by bytes
(``EXMECH_CACHE_MB``), whichever fills first, holds three kinds of entry, kept apart by the
first element of their key:

- ``answer``: a serialized ``Answer`` (``AnswerCache.query``: ``/sparql``, the CLI's formats),
  keyed by everything of the ``Query`` that can change its bytes;
- ``parsed``: a parsed ``Results`` (``AnswerCache.execute``: the API, the pages, curation),
  the same key;
- ``replay``: what ``/sparql`` answered one raw request (status and headers) and the key of
  the ``answer`` entry that holds its body, so the body is kept once however many requests
  (GET, POST, form, Accept spellings) it answers. ``sparql.ResponseCache`` answers repeats
  from it before Flask; the entry answers only while that very answer is kept.

The second element of every key is the store generation read before the answer was asked
for, and an answer is kept only when the store answered from that generation: any write
moves the generation, so every older entry, of every kind, becomes unreachable and ages out.
Each entry weighs what it holds: bytes for serialized answers, 8 times the serialized size
for parsed ones, headers for replays, plus the text of its key.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from exmech.store import Answer, Query, Results, Store

Key = tuple[object, ...]
V = TypeVar("V")
A = TypeVar("A", Answer, Results)
ANSWER, PARSED, REPLAY = "answer", "parsed", "replay"  # the kinds of entry (first in a key)
DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # EXMECH_CACHE_MB's default, 64 MiB
# Parsed terms take about 8 times the memory of the TSV they were read from (measured: 50,000
# rows of 4 terms, 4.0 MB of TSV, 33 MB of process memory), so they weigh that much more.
PARSED_WEIGHT = 8
# A replayed answer is at most this big: the server sends a replay on its event-loop thread
# only when the connection's output buffer takes it at once (server.py, ``_replayable``).
REPLAY_MAX_BYTES = 4 * 1024 * 1024
# (status, headers, body) of a stored /sparql response, as ``ResponseCache.lookup`` gives it
Replay = tuple[str, list[tuple[str, str]], bytes]


class LRU(Generic[V]):
    """A thread-safe least-recently-used map bounded by entries and by total weight; each
    value weighs what ``put`` is told, else what ``weigh`` says.

    >>> lru = LRU[bytes](entries=2, max_bytes=10, weigh=len)
    >>> lru.put("a", b"12345"); lru.put("b", b"123"); lru.put("c", b"1234")
    >>> lru.get("a"), lru.get("b"), len(lru), lru.weight
    (None, b'123', 2, 7)
    """

    def __init__(
        self, entries: int, max_bytes: int, weigh: Callable[[V], int] | None = None
    ) -> None:
        self.entries = entries
        self.max_bytes = max_bytes
        self.weigh = weigh
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: V, weight: int | None = None) -> None:
        """Keep ``value``, evicting the least recently used; one heavier than the whole
        budget is not kept."""
        if weight is None:
            if self.weigh is None:
                raise TypeError("LRU.put needs a weight: this LRU has no weigh function")
            weight = self.weigh(value)
        if self.entries <= 0 or weight > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, weight)
            self._bytes += weight
            while len(self._items) > self.entries or self._bytes > self.max_bytes:
                _key, (_value, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted

    @property
    def weight(self) -> int:
        """What the kept values weigh together."""
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def cache_key(query: Query, generation: str, kind: str = ANSWER) -> Key:
    """Everything that can change an answer: text, dataset, bindings, format, cap.

    >>> key = cache_key(Query("ASK {}", "ASK", media_type="text/csv"), "000001-ab")
    >>> key[:3]
    ('answer', '000001-ab', 'ASK {}')
    """
    return (
        kind,
        generation,
        query.text,
        query.form,
        query.default_graphs,
        query.named_graphs,
        query.substitutions,
        query.media_type if kind == ANSWER else None,
        query.max_rows,
        query.base_iri,
    )


@dataclass(frozen=True)
class _Replayed:
    """A replay entry: the response's status and headers; its body is the answer entry's.

    ``sent`` is the very answer those headers describe (a weak reference: the answer entry
    alone keeps it alive). An answer computed again under the same key, after this one aged
    out or in a race, may differ (another row order, length or row count from a remote
    engine), so the entry answers only while that answer is the one kept under ``answer``.
    """

    status: str
    headers: list[tuple[str, str]]
    answer: Key
    sent: weakref.ref[Answer]


Entry = Answer | Results | _Replayed


class AnswerCache:
    """The one LRU of an app, in front of ``store.query`` and ``store.execute``, and holding
    ``/sparql``'s replayable responses; ``.cached`` on an answer tells hits apart."""

    def __init__(self, store: Store, entries: int, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.store = store
        self.entries = entries
        self._lru: LRU[Entry] = LRU(entries, max_bytes)

    @property
    def max_bytes(self) -> int:
        return self._lru.max_bytes

    @property
    def weight(self) -> int:
        """What the kept entries weigh together (at most ``max_bytes``)."""
        return self._lru.weight

    def query(self, query: Query) -> Answer:
        """The store's serialized answer, from the cache when the same request met the same
        generation. A kept answer carries its ``cache_key`` (what a replay entry points at)."""
        return self._cached(query, ANSWER, self.store.query, Answer)

    def execute(self, query: Query) -> Results:
        """The store's parsed answer, cached like ``query`` (parsed once per generation)."""
        return self._cached(query, PARSED, self.store.execute, Results)

    def _cached(self, query: Query, kind: str, run: Callable[[Query], A], of: type[A]) -> A:
        if self.entries <= 0:
            return run(query)
        generation = self.store.generation
        key = cache_key(query, generation, kind)
        hit = self._lru.get(key)
        if isinstance(hit, of):
            return dataclasses.replace(hit, cached=True)
        value = run(query)
        if value.generation == generation:
            if isinstance(value, Answer):
                value = dataclasses.replace(value, cache_key=key)
                weight = len(value.body)
            else:
                weight = value.size * PARSED_WEIGHT
            self._lru.put(key, value, weight + _key_weight(query))
        return value

    def replay(self, request: Key, generation: str) -> Replay | None:
        """The response kept for this raw ``/sparql`` request in ``generation``, or None
        (never kept, aged out, or its answer entry aged out)."""
        if self.entries <= 0:
            return None
        entry = self._lru.get((REPLAY, generation, *request))
        if not isinstance(entry, _Replayed):
            return None
        answer = self._lru.get(entry.answer)
        if not isinstance(answer, Answer) or answer is not entry.sent():
            return None
        return entry.status, entry.headers, answer.body

    def keep_replay(
        self,
        request: Key,
        generation: str,
        status: str,
        headers: list[tuple[str, str]],
        answer: Answer,
    ) -> bool:
        """Keep the response ``/sparql`` gave ``request`` (``answer.body`` with these status
        and headers), pointing at the answer entry that holds the body; whether it was kept.
        Only answers kept by ``query`` in ``generation`` itself qualify, up to
        REPLAY_MAX_BYTES."""
        key = answer.cache_key
        if key is None or answer.generation != generation or key[1] != generation:
            return False
        kept = self._lru.get(key)  # a hit is a copy of the kept answer, sharing its body
        if not isinstance(kept, Answer) or kept.body is not answer.body:
            return False
        if len(answer.body) > REPLAY_MAX_BYTES:
            return False
        weight = len(status) + sum(len(n) + len(v) for n, v in headers)
        weight += sum(len(part) for part in request if isinstance(part, str | bytes))
        entry = _Replayed(status, headers, key, weakref.ref(kept))
        self._lru.put((REPLAY, generation, *request), entry, weight)
        return True

    @property
    def generation(self) -> str:
        return self.store.generation

    @property
    def dataset_hash(self) -> str:
        return self.store.dataset_hash

    def __len__(self) -> int:
        return len(self._lru)


def _key_weight(query: Query) -> int:
    """What a key's text weighs (a query may be up to EXMECH_MAX_QUERY_BYTES long)."""
    return len(query.text) + sum(len(g) for g in (*query.default_graphs, *query.named_graphs))
