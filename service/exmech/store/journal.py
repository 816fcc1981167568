"""Append-only journal of accepted submissions: the durable truth beside data/.

Each record is one submission as N-Quads after a header line that frames and checks it::

    #exmech-journal-record v2 <bytes> <sha256 of the payload> <YYYY-MM-DDTHH:MM:SSZ> <crc32>\\n

The CRC-32 (8 hex digits) covers the header before it, so a damaged length, checksum or time
is told apart from a record cut short; the SHA-256 covers the payload. Records written by
older exmech versions (``v1``: no header CRC, sometimes no time) are still read and checked
by their SHA-256; new records are always ``v2``, so an old journal needs no migration step.

A record is fsynced before the submission reaches the store, so a crash can leave only one
kind of damage: a *torn last record*, an append that never finished and was never
acknowledged. The writer (the process holding the state lock, see ``store/lock.py``) cuts
it, with a log line. Any other bad record stops whoever reads the journal with
``JournalDamaged``, naming the record, its byte offset and what to do; nothing here ever cuts
an acknowledged record. ``exmech journal verify`` lists the damage, ``exmech journal repair``
keeps a backup and drops what cannot be read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from exmech.errors import StoreUnavailable
from exmech.vocab import NP

MAGIC = b"#exmech-journal-record"
VERSION = b"v2"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_HEADER = 256  # a v2 header is ~130 bytes; a longer line is not a header
# A header line starts a record; N-Quads payloads never hold a line starting with '#'
# (exmech serializes them itself), so this finds the next record after damage.
NEXT_RECORD = b"\n" + MAGIC + b" v"
_HEADER_BYTES = re.compile(rb"[#a-z0-9 :TZ-]*")  # every byte a header can hold
WHAT_TO_DO = (
    "Nothing was changed. `exmech journal verify` lists every damaged record; "
    "`exmech journal repair` drops them after keeping a backup (or restore journal.log "
    "from your own backup), then start again."
)

log = logging.getLogger("exmech.journal")


class JournalDamaged(StoreUnavailable):
    """A record other than a torn last one cannot be read: nothing may go on silently."""


@dataclass(frozen=True)
class Record:
    """One accepted submission: its N-Quads and when it was journaled (None if unknown)."""

    payload: bytes
    accepted: datetime | None
    number: int = 0  # 1-based position in the journal
    offset: int = 0  # byte offset of its header
    end: int = 0  # byte offset just after its payload
    version: int = 2


@dataclass(frozen=True)
class Problem:
    """A stretch of the journal that is not a sound record."""

    number: int  # the record it would be (1-based)
    offset: int
    length: int
    reason: str

    def describe(self) -> str:
        return f"record {self.number} at byte {self.offset} ({self.length} bytes): {self.reason}"


@dataclass(frozen=True)
class Scan:
    """Everything read from a journal file: its sound records and what is wrong."""

    size: int
    records: list[Record] = field(default_factory=list)
    damaged: list[Problem] = field(default_factory=list)
    torn: Problem | None = None  # an unfinished last append, never acknowledged


def _header(size: int, sha: bytes, stamp: bytes) -> bytes:
    """A v2 header line.

    >>> _header(3, b"0" * 64, b"2026-12-03T10:00:00Z")[:34]
    b'#exmech-journal-record v2 3 000000'
    """
    head = b"%s %s %d %s %s " % (MAGIC, VERSION, size, sha, stamp)
    return head + b"%08x\n" % zlib.crc32(head)


def _parse_header(line: bytes) -> tuple[int, bytes, datetime | None, int] | str:
    """(payload size, sha256 hex, time, version) of a header line, or why it is not one."""
    parts = line.split(b" ")
    if parts[0] != MAGIC or len(parts) < 4:
        return "its header line is damaged (not a journal record header)"
    version = parts[1]
    if version == b"v2":
        if len(parts) != 6:
            return "its header line is damaged (wrong number of fields)"
        head = line[: len(line) - len(parts[5])]
        if parts[5] != b"%08x" % zlib.crc32(head):
            return "its header line is damaged (header checksum does not match)"
        stamp: bytes | None = parts[4]
    elif version == b"v1" and len(parts) in (4, 5):
        stamp = parts[4] if len(parts) == 5 else None
    else:
        return f"its header line is damaged (unknown version {version[:10]!r})"
    try:
        size = int(parts[2])
        accepted = (
            datetime.strptime(stamp.decode(), TIME_FORMAT).replace(tzinfo=UTC) if stamp else None
        )
    except (ValueError, UnicodeDecodeError):
        return "its header line is damaged (length or time unreadable)"
    if size < 0 or not re.fullmatch(rb"[0-9a-f]{64}", parts[3]):
        return "its header line is damaged (length or checksum field unreadable)"
    return size, parts[3], accepted, 2 if version == b"v2" else 1


def _could_be_torn_header(rest: bytes) -> bool:
    """Whether the bytes after the last record are the start of a header an append left."""
    return (
        len(rest) <= MAX_HEADER
        and MAGIC.startswith(rest[: len(MAGIC)])
        and _HEADER_BYTES.fullmatch(rest) is not None
    )


def scan(data: bytes) -> Scan:
    """Read every record of a journal's bytes; never raises, reports what is wrong.

    Torn means the file ends inside the last record and nothing in it contradicts an
    unfinished append: a header prefix, or a sound header whose payload is cut short.
    Everything else is damage, including a complete last record with a bad checksum.

    >>> one = _header(4, hashlib.sha256(b"abc\\n").hexdigest().encode(), b"2026-12-03T10:00:00Z")
    >>> good = one + b"abc\\n"
    >>> [r.payload for r in scan(good + good).records]
    [b'abc\\n', b'abc\\n']
    >>> scan(good + good[:-2]).torn.describe()
    'record 2 at byte 127 (125 bytes): the last record is cut short (an append that never finished)'
    >>> scan(good.replace(b"abc", b"abd") + good).damaged[0].describe()
    'record 1 at byte 0 (127 bytes): its payload does not match its SHA-256'
    """
    out = Scan(len(data))
    pos, number = 0, 0
    torn = "the last record is cut short (an append that never finished)"
    while pos < len(data):
        number += 1
        # A header line after this one (exmech's N-Quads never put '#' after a newline):
        # only when there is none can this be the unfinished last append.
        last = data.find(NEXT_RECORD, pos) < 0
        eol = data.find(b"\n", pos, pos + MAX_HEADER + 1)
        if eol < 0:
            if last and _could_be_torn_header(data[pos:]):
                return _with_torn(out, Problem(number, pos, len(data) - pos, torn))
            pos = _damaged(out, data, number, pos, "its header line is damaged (no end of line)")
            continue
        parsed = _parse_header(data[pos:eol])
        if isinstance(parsed, str):
            pos = _damaged(out, data, number, pos, parsed)
            continue
        size, sha, accepted, version = parsed
        start, end = eol + 1, eol + 1 + size
        payload = data[start:end]
        sound = hashlib.sha256(payload).hexdigest().encode() == sha
        if end > len(data) and last and not sound:
            return _with_torn(out, Problem(number, pos, len(data) - pos, torn))
        if end > len(data):
            reason = "its length field is damaged (it runs past the payload)"
            pos = _damaged(out, data, number, pos, reason)
            continue
        if not sound:
            pos = _damaged(out, data, number, pos, "its payload does not match its SHA-256")
            continue
        out.records.append(Record(payload, accepted, number, pos, end, version))
        pos = end
    return out


def _sound_at(data: bytes, pos: int) -> bool:
    """Whether a whole, sound record starts at ``pos``."""
    eol = data.find(b"\n", pos, pos + MAX_HEADER + 1)
    parsed = _parse_header(data[pos:eol]) if eol >= 0 else "no header"
    if isinstance(parsed, str):
        return False
    size, sha = parsed[0], parsed[1]
    payload = data[eol + 1 : eol + 1 + size]
    return len(payload) == size and hashlib.sha256(payload).hexdigest().encode() == sha


def _damaged(out: Scan, data: bytes, number: int, pos: int, reason: str) -> int:
    """Record a damaged stretch from ``pos`` to the next record (or the end of the file).

    The next record starts at a header line, or at a header that is itself sound (the
    damage may have hit the newline before it).
    """
    found = data.find(MAGIC + b" v", pos + 1)
    while found >= 0 and data[found - 1 : found] != b"\n" and not _sound_at(data, found):
        found = data.find(MAGIC + b" v", found + 1)
    stop = found if found >= 0 else len(data)
    out.damaged.append(Problem(number, pos, stop - pos, reason))
    return stop


def _with_torn(out: Scan, torn: Problem) -> Scan:
    return Scan(out.size, out.records, out.damaged, torn)


def named_nanopubs(data: bytes) -> list[str]:
    """Nanopublications a (possibly damaged) stretch of N-Quads names, to say what it held.

    >>> named_nanopubs(b'<https://e.org/np1> <http://www.nanopub.org/nschema#hasAssertion> <a')
    ['https://e.org/np1']
    """
    pattern = re.compile(rb"<([^<>\s]+)> <" + re.escape(NP.encode()) + rb"hasAssertion>")
    return sorted({m.group(1).decode("utf-8", "replace") for m in pattern.finditer(data)})


def damage_message(path: Path, found: Scan) -> str:
    """What is wrong with a journal and what to do, for errors and ``exmech journal verify``."""
    first = found.damaged[0]
    more = f" (and {len(found.damaged) - 1} more damaged)" if len(found.damaged) > 1 else ""
    return f"{path} is damaged: {first.describe()}{more}. {WHAT_TO_DO}"


class Journal:
    """One file, one writer (the state lock across processes, a lock within one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._end: int | None = None  # where the next record goes, once checked
        self._last: tuple[int, int] | None = None  # (start, end) of the newest own append
        self._broken: str | None = None

    def scan(self) -> Scan:
        """The file read and checked (an absent file is an empty journal)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        return scan(data)

    def checked(self) -> Scan:
        """The file read; raises JournalDamaged when a record other than a torn tail is bad."""
        found = self.scan()
        if found.damaged:
            raise JournalDamaged(damage_message(self.path, found))
        return found

    def records(self) -> Iterator[bytes]:
        """Every record's payload, oldest first; a torn tail is left out.

        Raises JournalDamaged when any other record is bad.
        """
        for record in self.checked().records:
            yield record.payload

    def entries(self) -> Iterator[Record]:
        """Every record with its acceptance time, oldest first (raises like ``records``)."""
        yield from self.checked().records

    def cut_torn_tail(self) -> int:
        """For the writer only (it holds the state lock): cut a torn last record, log it.

        Returns the journal's sound length. Raises JournalDamaged for any other damage, and
        never cuts a record that was complete (acknowledged).
        """
        with self._lock:
            self._end = self._writable_end()
            return self._end

    def _writable_end(self) -> int:
        found = self.checked()
        if found.torn is None:
            return found.size
        torn = found.torn
        with open(self.path, "r+b") as handle:
            handle.truncate(torn.offset)
            os.fsync(handle.fileno())
        log.warning(
            "%s: cut a torn last record: record %d at byte %d (%d bytes), an append that "
            "never finished and was never acknowledged",
            self.path,
            torn.number,
            torn.offset,
            torn.length,
        )
        return torn.offset

    def append(self, payload: bytes) -> int:
        """Write one record durably (fsync of file and folder) or raise OSError.

        The writer's job (state lock held). Returns the journal's length before the record,
        for :meth:`truncate`. Raises JournalDamaged (a 503) rather than write after a
        damaged record, or when the file changed under this writer.
        """
        stamp = datetime.now(UTC).strftime(TIME_FORMAT).encode()
        record = _header(len(payload), hashlib.sha256(payload).hexdigest().encode(), stamp)
        record += payload
        with self._lock:
            if self._broken is not None:
                raise JournalDamaged(self._broken)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._end is None:
                self._end = self._writable_end()
            mark = self._end
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size != mark:
                    raise JournalDamaged(
                        f"{self.path} changed under the server ({size} bytes, expected "
                        f"{mark}): another process wrote it. Nothing was written; stop every "
                        "exmech process on this state directory and start again."
                    )
                try:
                    _write_all(fd, record)
                    os.fsync(fd)
                except OSError:
                    # Not durable, so not accepted: a record left behind would be applied
                    # at the next start although the client was told it failed. Only this
                    # append's own bytes (after ``mark``) are cut; unbuffered, so the cut
                    # needs no flush (a full disk refuses flushes, never a shrink).
                    try:
                        os.ftruncate(fd, mark)
                        os.fsync(fd)
                    except OSError as exc:
                        self._broken = (
                            f"{self.path}: a failed append could not be taken back ({exc}); "
                            "writes are refused until the server restarts"
                        )
                    raise
            finally:
                os.close(fd)
            self._end = mark + len(record)
            self._last = (mark, self._end)
            self._sync_folder()
            return mark

    def truncate(self, mark: int) -> None:
        """Take back the newest append (its store write failed, so it was never acknowledged).

        Cuts only that record: refuses (JournalDamaged) if ``mark`` is not where this
        writer's newest record starts or if anything was written after it.
        """
        with self._lock:
            size = self.path.stat().st_size
            if self._last is None or self._last != (mark, size):
                raise JournalDamaged(
                    f"{self.path}: refusing to cut at byte {mark}: only this writer's newest, "
                    f"unacknowledged record may be taken back (file is {size} bytes)"
                )
            with open(self.path, "r+b") as handle:
                handle.truncate(mark)
                os.fsync(handle.fileno())
            self._end, self._last = mark, None

    def repair(self, stamp: datetime | None = None) -> tuple[Path, list[Problem]]:
        """Keep a backup, then rewrite the journal with only its sound records.

        For ``exmech journal repair`` (state lock held, store rebuilt after). Returns the
        backup's path and the stretches dropped; the sound records keep their exact bytes.
        """
        found = self.scan()
        dropped = [*found.damaged, *([found.torn] if found.torn else [])]
        when = (stamp or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        backup = self.path.with_name(f"{self.path.name}.{when}.bak")
        shutil.copy2(self.path, backup)
        _fsync(backup)
        data = self.path.read_bytes()
        tmp = self.path.with_name(self.path.name + ".repairing")
        with open(tmp, "wb") as handle:
            for record in found.records:
                handle.write(data[record.offset : record.end])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        self._sync_folder()
        self._end = self._last = None
        return backup, dropped

    def _sync_folder(self) -> None:
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
