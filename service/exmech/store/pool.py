"""Fair scheduling of queries over killable worker processes.

pyoxigraph cannot interrupt a query, so a query holds its worker process until it ends or
is killed at its deadline. With only first come, first served, a few clients sending
queries that run to the timeout hold every worker, and a trivial ASK waits behind them.

Two lanes, and a memory of how queries behaved (keyed by ``fingerprint``). "Slow" is
measured in CPU seconds of the worker process, not wall time, so a cheap query that waited
for a core on a loaded machine is not taken for a heavy one.

- **Slow lane**: ``query_workers`` processes. Queries known to be slow (they used more than
  ``fast_seconds`` of CPU before, or ran to their timeout) run only here.
- **Fast lane**: ``fast_workers`` more processes for every other query, which may also
  take an idle slow-lane worker. A query that uses more than ``fast_seconds`` of CPU on a
  fast worker is killed there, remembered as slow and moved to the slow lane with the rest
  of its time; the next time it goes there directly. A slow-lane query that then ends
  quickly is forgotten, so a cheap query is not kept there after one slow run.

Chosen over preemption by deadline (killing a running heavy query to admit a cheap one):
that turns load into failed queries, while lanes only cost one more process. The price:
each new slow query costs the fast lane ``fast_seconds`` and a worker restart, once. A
worker loads the store's snapshot when it starts (``warm``), and one that has not yet
loaded the current snapshot (right after a write) is given its query's full time, so
loading never counts as slowness.

Bounds, all from Settings: at most ``query_queue`` slow queries wait for a worker (four
times as many others; beyond: 503 with Retry-After); one client address may have at most
``client_slow_queries`` queries running or waiting in the slow lane (beyond: 429); and a
query that killed its worker (an engine crash, not a timeout) is remembered and refused
at once (422) instead of killing another worker.
"""

from __future__ import annotations

import hashlib
import logging
import math
import pickle
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

from exmech import sandbox
from exmech.errors import Busy, QueryTimeout, StoreUnavailable, TooManyRequests, Unprocessable
from exmech.querytext import tokenize
from exmech.store import Query

log = logging.getLogger(__name__)
SLOW, FAST = "slow", "fast"
REMEMBERED = 4096  # fingerprints kept per memory (slow queries, crashing queries), LRU
CHEAP_QUEUE_FACTOR = 4  # queries not known to be slow may wait four times as many
POLL = 0.1  # seconds between looks at the CPU time of a query over its fast-lane budget


class Worker(Protocol):
    """A query process: send it a message, poll and receive its reply, kill it.

    A message's first item names the state the worker must load to answer (a store
    snapshot); ``loaded`` is the last one it was asked to load, and ``warming`` says that
    the reply to a warm-up message (load, answer nothing) is still to be read.
    """

    conn: Any
    loaded: Any
    warming: bool
    spent: float | None  # its CPU seconds when it last replied (None: not known yet)

    def ready(self, timeout: float) -> str | None:
        """How it confined itself, once it says so within ``timeout`` (None: not yet).
        Raises SandboxUnavailable when it could not."""
        ...

    def alive(self) -> bool: ...

    def death(self) -> str:
        """Why it died under a query (after its pipe closed)."""
        ...

    def cpu(self) -> float:
        """CPU seconds the process has used (inf when it cannot be known)."""
        ...

    def kill(self) -> None: ...


@lru_cache(maxsize=4096)
def _normalised(text: str) -> str:
    return " ".join(t.text.upper() if t.kind == "word" else t.text for t in tokenize(text))


def fingerprint(query: Query) -> str:
    """A hash of what a query asks, blind to layout, comments and keyword case.

    >>> a = Query("ask { ?s ?p ?o } # one", "ASK", "text/csv")
    >>> fingerprint(a) == fingerprint(Query("ASK {?s ?p ?o}", "ASK", "application/json"))
    True
    """
    parts = (
        _normalised(query.text),
        repr(query.substitutions),
        repr(query.default_graphs),
        repr(query.named_graphs),
        query.base_iri or "",
    )
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class _Memory:
    """A bounded set of fingerprints, oldest forgotten first (callers hold the pool lock)."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._items: OrderedDict[str, float] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def add(self, key: str) -> None:
        self._items[key] = time.time()
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def discard(self, key: str) -> None:
        self._items.pop(key, None)

    def since(self, key: str) -> float:
        return self._items.get(key, 0.0)


class QueryPool:
    """Worker processes in two lanes, handed out one query at a time (module docstring)."""

    def __init__(
        self,
        spawn: Callable[[], Worker],
        size: int,
        timeout: float,
        fast: int = 0,
        fast_seconds: float = 1.0,
        queue_size: int = 4,
        client_slow: int = 2,
        warm: Callable[[], tuple[Any, ...]] | None = None,
    ) -> None:
        self.spawn = spawn
        self.warm = warm
        self.timeout = timeout
        self.fast_seconds = fast_seconds
        # Slow queries wait in a short line (each holds a request thread for long); the others
        # in a longer one, so a burst of cheap queries from one client is not refused.
        self.queue_size = {SLOW: queue_size, FAST: CHEAP_QUEUE_FACTOR * queue_size}
        self.client_slow = client_slow
        self.retry_after = max(1, math.ceil(timeout))
        self._cond = threading.Condition()
        self._idle: dict[str, list[Worker]] = {
            SLOW: [spawn() for _ in range(size)],
            FAST: [spawn() for _ in range(fast)],
        }
        self._has_fast = fast > 0
        self._waiting = {SLOW: 0, FAST: 0}
        self._slow_by_client: Counter[str] = Counter()
        self._slow = _Memory()
        self._crashed = _Memory()
        self._closed = False
        self.size = size + fast

    def started(self, within: float) -> set[str]:
        """Wait for every first worker to confine itself, then have it load the store.

        Returns what they applied; raises SandboxUnavailable (and stops them all) when one
        could not, or did not say so ``within`` seconds.
        """
        workers = self._idle[SLOW] + self._idle[FAST]
        try:
            applied = {worker.ready(within) for worker in workers}
            if None in applied:
                raise sandbox.SandboxUnavailable(f"a query worker did not start within {within} s")
        except sandbox.SandboxUnavailable:
            self.close()
            raise
        for worker in workers:
            self._warm(worker)
        return {str(a) for a in applied}

    def run(self, message: tuple[Any, ...], query: Query) -> dict[str, Any]:
        """Send ``message`` (which carries ``query``) to a worker and return its reply.

        Raises Unprocessable for a query that crashed a worker before, TooManyRequests
        (client over its cap), Busy (queue full), QueryTimeout, StoreUnavailable.
        """
        key = fingerprint(query)
        deadline = time.monotonic() + self.timeout
        with self._cond:
            if key in self._crashed:
                when = time.strftime("%H:%M:%S UTC", time.gmtime(self._crashed.since(key)))
                raise Unprocessable(
                    f"this query crashed a query worker at {when} (an engine bug or its "
                    "memory limit, not a timeout), so it is refused without running; "
                    "rephrase it (docs/upstream.md lists the engine bugs known here)"
                )
            known_slow = key in self._slow
        if not known_slow:
            lanes = (SLOW, FAST) if self._has_fast else (SLOW,)
            worker, lane = self._acquire(lanes, FAST, deadline)
            if lane == SLOW:
                return self._finish(worker, lane, key, message, deadline)
            # A worker still loading its state gets the full time: loading is not slowness.
            budget = self.fast_seconds if self._loaded(worker, message) else None
            reply, _cpu = self._send(worker, lane, key, message, deadline, budget)
            if reply is not None:
                return reply
            with self._cond:
                self._slow.add(key)  # moved to the slow lane with the rest of its time
        return self._run_slow(key, message, query.client, deadline)

    def _run_slow(
        self, key: str, message: tuple[Any, ...], client: str, deadline: float
    ) -> dict[str, Any]:
        with self._cond:
            if client and self._slow_by_client[client] >= self.client_slow:
                raise TooManyRequests(
                    f"this client already has {self._slow_by_client[client]} slow queries "
                    f"running or waiting, the most allowed (EXMECH_CLIENT_SLOW_QUERIES); "
                    "wait for one to finish"
                ).with_retry(self.retry_after)
            self._slow_by_client[client] += 1
        try:
            worker, lane = self._acquire((SLOW,), SLOW, deadline)
            return self._finish(worker, lane, key, message, deadline)
        finally:
            with self._cond:
                self._slow_by_client[client] -= 1
                if self._slow_by_client[client] <= 0:
                    del self._slow_by_client[client]

    def _finish(
        self, worker: Worker, lane: str, key: str, message: tuple[Any, ...], deadline: float
    ) -> dict[str, Any]:
        warm = self._loaded(worker, message)
        reply, cpu = self._send(worker, lane, key, message, deadline)
        with self._cond:
            if reply is None or (warm and cpu > self.fast_seconds):
                self._slow.add(key)
            elif warm:
                self._slow.discard(key)
        if reply is None:
            raise QueryTimeout(
                f"query stopped after the {self.timeout:g} s timeout (EXMECH_QUERY_TIMEOUT); "
                "narrow it with more specific patterns or a LIMIT"
            )
        return reply

    def _acquire(self, lanes: tuple[str, ...], queue: str, deadline: float) -> tuple[Worker, str]:
        """An idle worker of one of ``lanes`` (in that order), waiting in ``queue``'s line
        (SLOW for queries known to be slow, FAST for the others)."""
        with self._cond:
            taken = self._take(lanes)
            if taken is not None:
                return taken
            if self._waiting[queue] >= self.queue_size[queue]:
                raise Busy(
                    f"{self._waiting[queue]} queries are already waiting for a query worker "
                    f"(EXMECH_QUERY_QUEUE); try again in {self.retry_after} s"
                ).with_retry(self.retry_after)
            self._waiting[queue] += 1
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise QueryTimeout(
                            f"every query worker stayed busy for the whole {self.timeout:g} s "
                            "timeout; try again shortly"
                        ).with_retry(self.retry_after)
                    self._cond.wait(remaining)
                    taken = self._take(lanes)
                    if taken is not None:
                        return taken
            finally:
                self._waiting[queue] -= 1

    def _take(self, lanes: tuple[str, ...]) -> tuple[Worker, str] | None:
        """An idle worker, one that has started and loaded the store first (lane order)."""
        starting: tuple[Worker, str] | None = None
        for lane in lanes:
            for worker in self._idle[lane]:
                if self._settled(worker):
                    self._idle[lane].remove(worker)
                    return worker, lane
                starting = starting or (worker, lane)
        if starting is not None:
            self._idle[starting[1]].remove(starting[0])
        return starting

    @staticmethod
    def _settled(worker: Worker) -> bool:
        """Whether ``worker`` has confined itself and loaded the store; reads the messages
        that say so when they are in, without waiting."""
        try:
            if worker.ready(0) is None:
                return False
            if worker.warming:
                if not worker.conn.poll(0):
                    return False
                QueryPool._read(worker)
                worker.warming = False
            return True
        except (sandbox.SandboxUnavailable, EOFError, OSError):
            return False  # _send finds out again and says so

    def _release(self, worker: Worker, lane: str) -> None:
        with self._cond:
            self._idle[lane].append(worker)
            self._cond.notify_all()

    def _send(
        self,
        worker: Worker,
        lane: str,
        key: str,
        message: tuple[Any, ...],
        deadline: float,
        budget: float | None = None,
    ) -> tuple[dict[str, Any] | None, float]:
        """(the worker's reply, CPU seconds it used), or no reply when the deadline passed or
        the query used more than ``budget`` CPU seconds first; then the worker is replaced.

        CPU time, not wall time, decides what is slow: on a loaded machine a cheap query
        can wait long for a core without being heavy.
        """
        try:  # a replacement may still be starting: it confines itself first
            if worker.ready(max(deadline - time.monotonic(), 0.0)) is None:
                self._replace(worker, lane)
                return None, math.inf
        except sandbox.SandboxUnavailable as exc:
            log.error("%s", exc)
            self._replace(worker, lane)
            raise StoreUnavailable(str(exc)) from None
        if worker.warming:  # read its warm-up reply first
            try:
                if not worker.conn.poll(max(deadline - time.monotonic(), 0.0)):
                    self._replace(worker, lane)
                    return None, math.inf
                self._read(worker)
                worker.warming = False
            except (EOFError, OSError):
                self._replace(worker, lane)
                raise StoreUnavailable(
                    "a query worker stopped while it started; try again"
                ).with_retry(1) from None
        alive = worker.alive()  # a worker found dead before this query is not its fault
        try:
            # Its CPU time when it last replied, as it said (it has idled since): no read of
            # /proc per query; a new worker has not said yet.
            started = worker.spent if worker.spent is not None else worker.cpu()
            # pickle, not Connection.send: its ForkingPickler copies the reducer table per call
            worker.conn.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))
            wait = deadline if budget is None else min(deadline, time.monotonic() + budget)
            while True:
                if worker.conn.poll(max(wait - time.monotonic(), 0.0)):
                    reply = self._read(worker)
                    used = (worker.spent if worker.spent is not None else worker.cpu()) - started
                    worker.loaded = message[0]
                    self._release(worker, lane)
                    return reply, used
                if wait >= deadline or worker.cpu() - started > (budget or 0.0):
                    break
                wait = min(deadline, time.monotonic() + POLL)
        except (EOFError, OSError):
            # Read why it died before replacing it: the replacement kills the old process,
            # and a SIGKILL that lands while an abort is still exiting hides the abort.
            why = worker.death() if alive else ""
            self._replace(worker, lane)
            if not alive:
                raise StoreUnavailable(
                    "a query worker had stopped before this query reached it; try again"
                ).with_retry(1) from None
            with self._cond:
                self._crashed.add(key)
            raise StoreUnavailable(
                f"{why}; this query is remembered and will be refused from now on"
            ) from None
        self._replace(worker, lane)
        return None, math.inf

    @staticmethod
    def _read(worker: Worker) -> dict[str, Any]:
        """The worker's next reply; its ``cpu`` (the CPU seconds it had used when it sent
        it) becomes ``worker.spent``."""
        reply: dict[str, Any] = worker.conn.recv()
        spent = reply.get("cpu")
        worker.spent = spent if isinstance(spent, float) else None
        return reply

    @staticmethod
    def _loaded(worker: Worker, message: tuple[Any, ...]) -> bool:
        """Whether ``worker`` has the state ``message`` needs loaded already."""
        return not worker.warming and worker.loaded == message[0]

    def _warm(self, worker: Worker) -> None:
        """Have a new worker load the current state now, not in its first query's time."""
        if self.warm is None:
            return
        message = self.warm()
        try:
            worker.conn.send(message)
        except OSError:
            return  # found dead by its first query, and replaced then
        worker.loaded, worker.warming = message[0], True

    def _replace(self, worker: Worker, lane: str) -> None:
        def swap() -> None:
            worker.kill()
            if self._closed:
                return
            fresh = self.spawn()
            self._warm(fresh)
            if self._closed:  # closed while it started
                fresh.kill()
                return
            self._release(fresh, lane)

        threading.Thread(target=swap, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        with self._cond:
            workers = [w for lane in self._idle.values() for w in lane]
            for lane in self._idle.values():
                lane.clear()
        for worker in workers:
            worker.kill()
