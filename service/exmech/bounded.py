"""Run a function in a child process with a deadline; past it the child is killed (503).

Python cannot stop a thread, and pure-Python work such as pyshacl on a crafted submission
can run for minutes; a process can be killed, like the query workers (store/embedded.py).
Children are started with ``spawn`` (a fresh interpreter), never forked, so none inherits an
open store. One small pool per owner (an app's curation desk, a CLI command), its children
started on first use and killed by ``close``; a killed child is replaced on the next call.
The function and its arguments must be picklable (module-level functions, bytes, strings).
"""

from __future__ import annotations

import importlib
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from exmech import sandbox
from exmech.errors import ExmechError

SPAWN = multiprocessing.get_context("spawn")
SIZE = 1  # children per process: one core at most goes to bounded work
STARTUP = 60.0  # seconds a new child may take to start and import the function's module


class Unavailable(ExmechError):
    """503: the work was stopped at its deadline, or no child was free in time."""

    status = 503


def _child_main(conn: Connection) -> None:
    # Validation never needs the network, so its process cannot reach it: pyshacl and the
    # parsers fetch nothing, and now could not if they tried. Where seccomp is missing the
    # server has already refused to start (EXMECH_QUERY_SANDBOX) unless told otherwise.
    try:
        sandbox.deny_network()
    except sandbox.SandboxUnavailable:
        pass
    while True:
        try:
            func, args = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        try:
            conn.send((True, func(*args)))
        except Exception as exc:  # reported to the caller, which raises it there
            conn.send((False, f"{type(exc).__name__}: {exc}"))


class _Child:
    def __init__(self) -> None:
        self.conn, child = SPAWN.Pipe()
        self.process = SPAWN.Process(target=_child_main, args=(child,), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class Pool:
    """At most ``size`` children, each running one call at a time."""

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self._idle: queue.Queue[_Child] = queue.Queue()
        self._started = 0
        self._lock = threading.Lock()
        self._closed = False

    def _take(self, wait: float, module: str) -> tuple[_Child | None, bool]:
        """(an idle child or a new one that has imported ``module``, whether it is new)."""
        with self._lock:
            if self._closed:
                raise Unavailable("this server is shutting down; try again shortly")
            start = self._idle.empty() and self._started < self.size
            if start:
                self._started += 1
        if start:
            child = None
            try:
                child = _Child()
                child.conn.send((importlib.import_module, (module,)))
                if not child.conn.poll(STARTUP):
                    raise OSError(f"a new process did not start within {STARTUP} s")
                child.conn.recv()
                return child, True
            except Exception:
                with self._lock:
                    self._started -= 1
                if child is not None:
                    child.kill()
                raise
        try:
            return self._idle.get(timeout=max(wait, 0.0)), False
        except queue.Empty:
            return None, False

    def _drop(self, child: _Child) -> None:
        with self._lock:
            self._started -= 1
        threading.Thread(target=child.kill, daemon=True).start()

    def call(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        timeout: float,
        what: str,
        setting: str,
    ) -> Any:
        """``func(*args)`` in a child, answered within ``timeout`` seconds or stopped.

        Raises Unavailable (503) naming ``what`` and ``setting`` when the deadline passes
        (waiting for a free child counts, starting a new one does not); an exception in the
        child is raised here as RuntimeError with its message.
        """
        deadline = time.monotonic() + timeout
        child, new = self._take(timeout, func.__module__)
        if new:  # starting a process (an interpreter, imports) is not the work's time
            deadline = time.monotonic() + timeout
        if child is None:
            raise Unavailable(
                f"{what} is busy with other requests and could not start within {timeout:g} s "
                f"({setting}); try again shortly"
            )
        try:
            child.conn.send((func, args))
            if child.conn.poll(max(deadline - time.monotonic(), 0.0)):
                ok, value = child.conn.recv()
                self._drop(child) if self._closed else self._idle.put(child)
                if not ok:
                    raise RuntimeError(f"{what} failed: {value}")
                return value
        except (EOFError, OSError):
            self._drop(child)
            raise Unavailable(f"{what} stopped: its process died; try again") from None
        self._drop(child)
        raise Unavailable(
            f"{what} stopped after {timeout:g} s ({setting}); send a smaller submission, "
            "or fewer nanopublications at a time"
        )

    def close(self) -> None:
        """Kill the idle children; a call under way finishes, then its child is killed too."""
        with self._lock:
            self._closed = True
        while True:
            try:
                child = self._idle.get_nowait()
            except queue.Empty:
                return
            child.kill()
