"""Append-only journal of accepted submissions: the durable truth beside data/.

Each record is one submission as N-Quads, framed by a header line that carries its length,
its SHA-256 and when it was accepted (``#exmech-journal-record v1 <bytes> <sha256>
<YYYY-MM-DDTHH:MM:SSZ>``; older records lack the time), and is fsynced before the submission
reaches the store. A crash can only leave a torn last record; reading stops there and
``Journal.append`` cuts it off first, so every submission is wholly in the journal or wholly out.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

MAGIC = b"#exmech-journal-record v1"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Record:
    """One accepted submission: its N-Quads and when it was journaled (None if unknown)."""

    payload: bytes
    accepted: datetime | None


class Journal:
    """One file, one writer (a lock serialises appends within the process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._end: int | None = None

    def records(self) -> Iterator[bytes]:
        """Every complete record's payload, oldest first; a torn tail is ignored."""
        for record, _end in self._scan():
            yield record.payload

    def entries(self) -> Iterator[Record]:
        """Every complete record with its acceptance time, oldest first."""
        for record, _end in self._scan():
            yield record

    def _scan(self) -> Iterator[tuple[Record, int]]:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        pos = 0
        while pos < len(data):
            eol = data.find(b"\n", pos)
            if eol < 0:
                return
            parts = data[pos:eol].split(b" ")
            if len(parts) not in (4, 5) or b" ".join(parts[:2]) != MAGIC:
                return
            try:
                size = int(parts[2])
                accepted = (
                    datetime.strptime(parts[4].decode(), TIME_FORMAT).replace(tzinfo=UTC)
                    if len(parts) == 5
                    else None
                )
            except ValueError:
                return
            start, end = eol + 1, eol + 1 + size
            payload = data[start:end]
            if len(payload) != size or hashlib.sha256(payload).hexdigest().encode() != parts[3]:
                return
            yield Record(payload, accepted), end
            pos = end

    def valid_length(self) -> int:
        end = 0
        for _record, stop in self._scan():
            end = stop
        return end

    def append(self, payload: bytes) -> int:
        """Write one record durably (fsync of file and folder) or raise OSError.

        Returns the journal's length before the record, for :meth:`truncate`.
        """
        stamp = datetime.now(UTC).strftime(TIME_FORMAT).encode()
        sha = hashlib.sha256(payload).hexdigest().encode()
        header = b"%s %d %s %s\n" % (MAGIC, len(payload), sha, stamp)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._end is None:
                self._end = self.valid_length()
            mark = self._end
            with open(self.path, "ab") as handle:
                if handle.tell() != mark:
                    handle.truncate(mark)
                try:
                    handle.write(header + payload)
                    handle.flush()
                    os.fsync(handle.fileno())
                except OSError:
                    # Not durable, so not accepted: a record left behind would be applied
                    # at the next start although the client was told it failed.
                    try:
                        handle.truncate(mark)
                    except OSError:
                        self._end = None  # re-read what is valid on the next append
                    raise
            self._end = mark + len(header) + len(payload)
            self._sync_folder()
            return mark

    def truncate(self, mark: int) -> None:
        """Cut the journal back to ``mark`` (undo an append whose store write failed)."""
        with self._lock:
            with open(self.path, "r+b") as handle:
                handle.truncate(mark)
                os.fsync(handle.fileno())
            self._end = mark

    def _sync_folder(self) -> None:
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
