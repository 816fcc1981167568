"""Curator bearer tokens, stored only as salted SHA-256 hashes.

One entry per line (file ``EXMECH_TOKENS_FILE``; or ``EXMECH_TOKENS``, entries separated by
``;``)::

    <curator-iri> <salt> <sha256-hex> [key:<public-key>] [display name]

where ``sha256-hex = sha256(salt + ":" + token)`` and ``public-key`` is the curator's RSA
public key (base64 DER, as ``npx:hasPublicKey`` states it): signed submissions must carry
it. Blank lines and ``#`` comments are ignored. Tokens are 256-bit random strings, so a fast
salted hash is enough (no password stretching). ``exmech token add --curator IRI`` prints a
new token once and appends its entry. Checking a token compares it with every entry in
constant time, so timing does not tell which matched.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from exmech.errors import BadRequest

PREFIX = "exm_"
_IRI = re.compile(r"^https?://[^\s<>\"{}|\\^`]+$")
_KEY = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


@dataclass(frozen=True)
class Entry:
    """One configured token: whose it is, its salt and hash, and the curator's name."""

    curator: str
    salt: str
    digest: str
    name: str
    public_key: str = ""

    def line(self) -> str:
        key = f"key:{self.public_key}" if self.public_key else ""
        parts = (self.curator, self.salt, self.digest, key, self.name)
        return " ".join(part for part in parts if part)


def digest(salt: str, token: str) -> str:
    """The stored hash of a token.

    >>> digest("ab", "t") == hashlib.sha256(b"ab:t").hexdigest()
    True
    """
    return hashlib.sha256(f"{salt}:{token}".encode()).hexdigest()


def parse(text: str, where: str, separator: str = "\n") -> tuple[Entry, ...]:
    """Entries of a tokens file (or of ``EXMECH_TOKENS`` with ``separator=";"``).

    Raises BadRequest naming the place and entry number of a malformed entry.

    >>> parse("https://orcid.org/0000-0002-1825-0097 00 " + "a" * 64 + " Ada", "x")[0].name
    'Ada'
    >>> parse("https://example.org/c 00 " + "a" * 64 + " key:QUJD Ada", "x")[0].public_key
    'QUJD'
    """
    entries = []
    for number, raw in enumerate(text.split(separator), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 3)
        if (
            len(parts) < 3
            or not _IRI.match(parts[0])
            or not re.fullmatch(r"[0-9a-f]{64}", parts[2])
        ):
            raise BadRequest(
                f"{where}: entry {number} is not '<curator-iri> <salt> <sha256-hex> [name]'"
            )
        name, key = parts[3] if len(parts) > 3 else "", ""
        if name.startswith("key:"):
            key, _, name = name.partition(" ")
            key = key.removeprefix("key:")
            if not _KEY.match(key):
                raise BadRequest(f"{where}: entry {number} has a public key that is not base64")
        entries.append(Entry(parts[0], parts[1], parts[2], name.strip(), key))
    return tuple(entries)


def orcid_problem(iri: str) -> str | None:
    """What is wrong with an ORCID iD IRI (None when it is fine or not an ORCID).

    The last character is the ISO 7064 MOD 11-2 check digit ORCID defines, so a mistyped
    iD is caught here rather than published.

    >>> orcid_problem("https://orcid.org/0000-0002-1825-0097") is None
    True
    >>> orcid_problem("https://orcid.org/0000-0002-1825-0098")
    'https://orcid.org/0000-0002-1825-0098: the check digit should be 7 (a typing mistake?)'
    """
    if not re.match(r"^https?://(www\.)?orcid\.org/", iri):
        return None
    match = re.fullmatch(r"https://orcid\.org/(\d{4}-\d{4}-\d{4}-\d{3}[\dX])", iri)
    if match is None:
        return f"{iri}: an ORCID iD IRI is https://orcid.org/dddd-dddd-dddd-dddd"
    digits = match.group(1).replace("-", "")
    total = 0
    for digit in digits[:-1]:
        total = (total + int(digit)) * 2
    result = (12 - total % 11) % 11
    expected = "X" if result == 10 else str(result)
    if digits[-1] != expected:
        return f"{iri}: the check digit should be {expected} (a typing mistake?)"
    return None


def new_entry(curator: str, name: str = "", public_key: str = "") -> tuple[str, Entry]:
    """A fresh random token and the entry to store for it (the token itself is not kept).

    >>> token, entry = new_entry("https://example.org/curator/ada", "Ada")
    >>> find((entry,), token) == entry and token.startswith(PREFIX)
    True
    """
    if not _IRI.match(curator):
        raise BadRequest(f"curator must be an http(s) IRI such as an ORCID, not {curator!r}")
    problem = orcid_problem(curator)
    if problem:
        raise BadRequest(problem)
    public_key = "".join(public_key.split())
    if public_key and not _KEY.match(public_key):
        raise BadRequest("the public key must be base64 (the one line of an id_rsa.pub file)")
    token = PREFIX + secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    return token, Entry(curator, salt, digest(salt, token), " ".join(name.split()), public_key)


def find(entries: tuple[Entry, ...], token: str) -> Entry | None:
    """The entry a presented token matches, checking every entry in constant time."""
    match = None
    for entry in entries:
        if hmac.compare_digest(digest(entry.salt, token), entry.digest):
            match = entry
    return match


def append(path: Path, entry: Entry) -> None:
    """Add an entry to a tokens file (created with mode 0600), durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(entry.line() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


class Keyring:
    """The configured entries: ``EXMECH_TOKENS`` plus the file, re-read when the file changes."""

    def __init__(self, inline: str, path: Path | None) -> None:
        self._inline = parse(inline, "EXMECH_TOKENS", ";")
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._from_file: tuple[Entry, ...] = ()

    def entries(self) -> tuple[Entry, ...]:
        if self._path is not None:
            try:
                stat = self._path.stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
            except FileNotFoundError:
                stamp = None
            if stamp != self._stamp:
                text = self._path.read_text(encoding="utf-8") if stamp else ""
                self._from_file = parse(text, str(self._path))
                self._stamp = stamp
        return self._inline + self._from_file
