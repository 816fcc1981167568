"""Append-only journal of accepted submissions: the durable truth beside data/.

Each record is one submission as N-Quads, framed by a header line that carries its length
and SHA-256, and is fsynced before the submission reaches the store. A crash can only leave
a torn last record; reading stops there and ``Journal.append`` cuts it off first, so every
submission is wholly in the journal or wholly out.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

MAGIC = b"#exmech-journal-record v1"


class Journal:
    """One file, one writer (a lock serialises appends within the process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._end: int | None = None

    def records(self) -> Iterator[bytes]:
        """Every complete record's payload, oldest first; a torn tail is ignored."""
        for payload, _end in self._scan():
            yield payload

    def _scan(self) -> Iterator[tuple[bytes, int]]:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        pos = 0
        while pos < len(data):
            eol = data.find(b"\n", pos)
            if eol < 0:
                return
            parts = data[pos:eol].split(b" ")
            if len(parts) != 4 or b" ".join(parts[:2]) != MAGIC:
                return
            try:
                size = int(parts[2])
            except ValueError:
                return
            start, end = eol + 1, eol + 1 + size
            payload = data[start:end]
            if len(payload) != size or hashlib.sha256(payload).hexdigest().encode() != parts[3]:
                return
            yield payload, end
            pos = end

    def valid_length(self) -> int:
        end = 0
        for _payload, end in self._scan():
            pass
        return end

    def append(self, payload: bytes) -> None:
        """Write one record durably (fsync of file and folder) or raise OSError."""
        header = b"%s %d %s\n" % (MAGIC, len(payload), hashlib.sha256(payload).hexdigest().encode())
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._end is None:
                self._end = self.valid_length()
            with open(self.path, "ab") as handle:
                if handle.tell() != self._end:
                    handle.truncate(self._end)
                handle.write(header + payload)
                handle.flush()
                os.fsync(handle.fileno())
            self._end += len(header) + len(payload)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
