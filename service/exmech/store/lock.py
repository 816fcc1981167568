"""One writer per state directory: an exclusive lock on ``<state>/writer.lock``.

``exmech serve`` (for its whole life), ``exmech build``, ``exmech journal repair`` and any
process that opens the embedded store's primary to write take it; another one refuses at
once, naming the process that holds it (pid, command, since when: the holder writes them into
the lock file). The lock is the kernel's ``flock`` on an open file: it goes away with the
process, kill -9 included, so there is never a stale lock to clean up.

A child the holder starts (its parent pid is the one in the lock file) works under its
parent's lock, and a process forked by the holder shares the lock through the inherited
descriptor, so the lock is held until the last of them is gone. Why plain ``fcntl.flock``
and not the filelock package: filelock 4 closes inherited lock descriptors in a forked child
(tried: with the parent killed, another process took the lock while the child still ran) and
installs at-fork hooks that can hold a fork back for up to 30 s; exmech needs none of its
portability, and this is the whole of what it needs.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exmech.errors import StoreUnavailable

LOCK_NAME = "writer.lock"


class StateInUse(StoreUnavailable):
    """Another exmech process writes this state directory."""


_held: dict[str, list[int]] = {}  # state dir -> [descriptor (-1: the parent's), depth]
_guard = threading.Lock()


def holder(state: Path) -> dict[str, Any] | None:
    """What the lock file says about its holder (pid, command, since), or None."""
    try:
        info = json.loads((state / LOCK_NAME).read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def busy_message(state: Path, info: dict[str, Any] | None) -> str:
    """Why a second writer is refused, and what to do.

    >>> print(busy_message(Path("/s"), {"pid": 42, "command": "exmech serve", "since": "today"}))
    /s is in use by pid 42 (exmech serve, since today): one process writes a state directory. Stop it first, or use another state directory (--state-dir, EXMECH_STATE_DIR).
    """  # noqa: E501
    who = (
        f"pid {info.get('pid')} ({info.get('command')}, since {info.get('since')})"
        if info
        else "another exmech process (starting: its pid is not written yet)"
    )
    return (
        f"{state} is in use by {who}: one process writes a state directory. Stop it first, "
        "or use another state directory (--state-dir, EXMECH_STATE_DIR)."
    )


def held(state: Path) -> bool:
    """Whether this process (or the parent it works for) holds the state's lock."""
    with _guard:
        return str(state) in _held


def acquire(state: Path, command: str) -> None:
    """Take the state's lock now or raise StateInUse; re-entrant within a process.

    ``command`` says what this process is (``exmech serve``), for the message a second
    writer gets.
    """
    key = str(state)
    with _guard:
        if key in _held:
            _held[key][1] += 1
            return
        state.mkdir(parents=True, exist_ok=True)
        fd = os.open(state / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            info = holder(state)
            if info is not None and info.get("pid") == os.getppid():
                _held[key] = [-1, 1]  # started by the holder: work under its lock
                return
            raise StateInUse(busy_message(state, info)) from None
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = {"pid": os.getpid(), "command": command, "since": since}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        _held[key] = [fd, 1]


def release(state: Path) -> None:
    """Undo one ``acquire``; the last one unlocks (the lock file itself stays)."""
    key = str(state)
    with _guard:
        entry = _held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _held[key]
        if entry[0] >= 0:
            os.close(entry[0])  # closing the descriptor drops the flock


@contextmanager
def hold(state: Path, command: str) -> Iterator[None]:
    """``with hold(state, "build"):`` the state's one writer for the block."""
    acquire(state, command)
    try:
        yield
    finally:
        release(state)
