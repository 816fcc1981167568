"""The checked journal: a torn last record is cut, any other damage stops everything.

Unit tests flip every byte and cut at every length; the rest runs real processes: a
damaged journal makes `exmech serve` and `exmech build` refuse to start, naming the record
and its byte offset, and `exmech journal verify` / `repair` behave as the README says.
Journals written by older exmech versions (v1 records, tests/data/journal-v1.log, written
by the previous journal code) are still read, served and appended to.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, free_port, open_app, start_server, stop_server
from exmech.settings import Settings
from exmech.store.embedded import EmbeddedStore
from exmech.store.journal import MAGIC, Journal, JournalDamaged, Record, _header, scan
from test_curation import ADA_TOKEN, FIELDS, KEYS, auth, bare, sparql

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
V1_JOURNAL = ROOT / "tests" / "data" / "journal-v1.log"
NP_HEADS = """PREFIX np: <http://www.nanopub.org/nschema#>
SELECT ?np WHERE { GRAPH ?h { ?np np:hasAssertion ?a } }"""
PAIRS = [("yoga", "sleep"), ("pilates", "mindfulness"), ("aerobic", "relaxation")]


def quad(n: int) -> bytes:
    ex = "https://example.org/"
    return f'<{ex}s> <{ex}p> "{n}" <{ex}g> .\n'.encode()


def journal_bytes(*payloads: bytes) -> bytes:
    return b"".join(
        _header(len(p), hashlib.sha256(p).hexdigest().encode(), b"2026-12-03T10:00:00Z") + p
        for p in payloads
    )


# --- the format, byte by byte ------------------------------------------------------------


def test_every_cut_inside_the_last_record_is_torn_and_keeps_the_others() -> None:
    data = journal_bytes(quad(1), quad(22), quad(333))
    ends = [r.end for r in scan(data).records]
    assert len(ends) == 3
    for length in range(ends[1] + 1, ends[2]):
        found = scan(data[:length])
        assert found.damaged == [], length
        assert [r.payload for r in found.records] == [quad(1), quad(22)], length
        assert found.torn is not None and found.torn.offset == ends[1], length


def test_every_flipped_byte_is_damage_never_a_torn_tail_and_spares_the_other_records() -> None:
    data = journal_bytes(quad(1), quad(22), quad(333))
    records = scan(data).records
    for pos in range(len(data)):
        broken = bytearray(data)
        broken[pos] ^= 0x01
        found = scan(bytes(broken))
        hit = next(r for r in records if r.offset <= pos < r.end)
        assert found.torn is None, pos
        assert [p.number for p in found.damaged] == [hit.number], pos
        assert found.damaged[0].offset == hit.offset, pos
        kept = [r.payload for r in found.records]
        assert kept == [r.payload for r in records if r is not hit], pos


def test_a_record_whose_length_grew_is_damage_even_at_the_end() -> None:
    data = journal_bytes(quad(1), quad(2))
    last = scan(data).records[-1]
    header_end = data.index(b"\n", last.offset)
    fields = data[last.offset : header_end].split(b" ")
    fields[2] = b"%d" % (int(fields[2]) + 5)
    # Both a v2 header (its CRC then fails) and a v1 header (no CRC: the payload is whole)
    for head in (b" ".join(fields), b" ".join([MAGIC, b"v1", *fields[2:4]])):
        found = scan(data[: last.offset] + head + data[header_end:])
        assert found.torn is None and [p.number for p in found.damaged] == [2]


def test_old_v1_journals_are_read_and_checked() -> None:
    data = V1_JOURNAL.read_bytes()
    found = scan(data)
    assert (len(found.records), found.damaged, found.torn) == (3, [], None)
    assert [r.version for r in found.records] == [1, 1, 1]
    assert found.records[0].accepted is None and found.records[1].accepted is not None
    broken = bytearray(data)
    broken[found.records[1].end - 20] ^= 0x01
    assert [p.number for p in scan(bytes(broken)).damaged] == [2]


def test_appending_refuses_to_write_after_damage_and_never_truncates_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    path.write_bytes(journal_bytes(quad(1), quad(2), quad(3)))
    broken = bytearray(path.read_bytes())
    broken[scan(bytes(broken)).records[1].end - 3] ^= 0x01
    path.write_bytes(bytes(broken))
    with pytest.raises(JournalDamaged, match=r"record 2 at byte \d+"):
        Journal(path).append(quad(4))
    assert path.read_bytes() == bytes(broken)


def test_taking_back_an_append_cuts_only_that_record(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.log")
    first = journal.append(quad(1))
    mark = journal.append(quad(2))
    with pytest.raises(JournalDamaged, match="only this writer's newest"):
        journal.truncate(first)  # an acknowledged record: refused
    journal.truncate(mark)
    with pytest.raises(JournalDamaged):
        journal.truncate(mark)  # already taken back
    assert list(Journal(tmp_path / "journal.log").records()) == [quad(1)]


def test_a_journal_that_grew_under_the_writer_is_not_written_or_cut(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    journal = Journal(path)
    journal.append(quad(1))
    with open(path, "ab") as other:  # another process appends behind the writer's back
        other.write(journal_bytes(quad(2)))
    before = path.read_bytes()
    with pytest.raises(JournalDamaged, match="changed under the server"):
        journal.append(quad(3))
    assert path.read_bytes() == before


# --- real processes ------------------------------------------------------------------------


def exmech(state: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXMECH_")}
    command = ["--state-dir", str(state), "--data-root", str(ROOT), *args]
    return subprocess.run(
        [sys.executable, "-m", "exmech", *command],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd or state.parent,
    )


def serve_once(state: Path, tmp: Path) -> tuple[int, str]:
    """Start `exmech serve`; it must exit by itself (refusal): (exit code, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXMECH_")}
    env.update(
        EXMECH_STATE_DIR=str(state), EXMECH_DATA_ROOT=str(ROOT), EXMECH_PORT=str(free_port())
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "exmech", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # it served instead of refusing: stop it all
        output, _ = process.communicate()
        pytest.fail(f"exmech serve started instead of refusing:\n{output}")
    return process.returncode, output


def submit_in_process(state: Path, pairs: list[tuple[str, str]]) -> None:
    with open_app(state, tokens=KEYS) as app:
        client = app.test_client()
        for exercise, mechanism in pairs:
            accepted = client.post(
                f"/curation/submissions?{FIELDS}",
                data=bare(exercise, mechanism),
                content_type="text/turtle",
                headers=auth(ADA_TOKEN),
            )
            assert accepted.status_code == 201, accepted.text


def nanopub_of(record: Record) -> str:
    from exmech.store.journal import named_nanopubs

    (iri,) = named_nanopubs(record.payload)
    return iri


def served(url: str) -> set[str]:
    return {row["np"] for row in sparql(url, NP_HEADS)}


def submit_live(url: str, exercise: str, mechanism: str) -> str:
    """POST one bare claim to a live server; the new nanopublication's IRI (201 asserted)."""
    accepted = httpx.post(
        f"{url}/curation/submissions?{FIELDS}",
        data=bare(exercise, mechanism),
        headers={**auth(ADA_TOKEN), "Content-Type": "text/turtle"},
        timeout=60,
    )
    assert accepted.status_code == 201, accepted.text
    return str(accepted.json()["nanopubs"][0]["iri"])


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Path:
    """A state whose journal holds three accepted claims (copy it before changing it)."""
    state = tmp_path_factory.mktemp("three") / "state"
    shutil.copytree(built_state, state)
    submit_in_process(state, PAIRS)
    return state


@pytest.fixture
def state(tmp_path: Path, three: Path) -> Path:
    shutil.copytree(three, tmp_path / "state")
    return tmp_path / "state"


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def sha_field(record: Record) -> int:
    """Offset of a byte inside a record's SHA-256 field."""
    return record.offset + len(MAGIC) + len(" v2 ") + len(str(len(record.payload))) + 1 + 7


CORRUPTIONS = {
    "first record's payload": (0, lambda r: r.end - 40),
    "a middle record's payload": (1, lambda r: r.offset + 400),
    "the complete last record's payload": (2, lambda r: r.end - 2),
    "a checksum byte of a middle record": (1, sha_field),
    "a checksum byte of the last record": (2, sha_field),
}


@pytest.mark.live
@pytest.mark.parametrize("where", CORRUPTIONS)
def test_a_damaged_record_stops_serve_and_build_naming_it(
    where: str, state: Path, tmp_path: Path
) -> None:
    journal = state / "journal.log"
    records = Journal(journal).scan().records
    index, position = CORRUPTIONS[where]
    flip(journal, position(records[index]))
    damaged = journal.read_bytes()
    named = f"record {index + 1} at byte {records[index].offset}"

    code, output = serve_once(state, tmp_path)
    assert code != 0 and named in output and "exmech journal verify" in output, output
    built = exmech(state, "build")
    assert built.returncode == 1 and named in built.stderr, built.stderr
    checked = exmech(state, "journal", "verify")
    assert checked.returncode == 1 and f"damaged: {named}" in checked.stdout, checked.stdout
    for reader in (("query", "ASK { ?s ?p ?o }"), ("export",)):  # readers refuse, one line
        read = exmech(state, *reader)
        assert read.returncode == 1 and named in read.stderr, read.stderr
        assert "Traceback" not in read.stderr, read.stderr
    assert journal.read_bytes() == damaged  # nothing cut, nothing rewritten


@pytest.mark.live
def test_a_torn_last_record_is_cut_with_a_log_line_and_the_server_starts(
    tmp_path: Path, built_state: Path
) -> None:
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    submit_in_process(state, PAIRS[:2])
    journal = state / "journal.log"
    sound = journal.read_bytes()
    payload = Journal(journal).scan().records[0].payload  # any payload: the append never ended
    with open(journal, "ab") as handle:  # a crash in the middle of an append
        handle.write(journal_bytes(payload)[: len(payload) // 2])
    assert exmech(state, "journal", "verify").returncode == 0
    server = start_server(state, tmp_path / "server.log")
    try:
        assert len(served(server.url) & {nanopub_of(r) for r in scan(sound).records}) == 2
    finally:
        stop_server(server)
    assert "cut a torn last record: record 3 at byte" in server.output(), server.output()
    assert journal.read_bytes() == sound


@pytest.mark.live
def test_damage_while_serving_loses_nothing_then_repair_drops_only_the_damaged_record(
    state: Path, tmp_path: Path
) -> None:
    journal = state / "journal.log"
    records = Journal(journal).scan().records
    server = start_server(state, tmp_path / "server.log", EXMECH_TOKENS=KEYS)
    try:
        flip(journal, records[1].offset + 500)  # a bad sector under the running server
        size = journal.stat().st_size
        new = submit_live(server.url, "walking", "sleep")
    finally:
        stop_server(server)
    data = journal.read_bytes()
    assert len(data) > size  # appended after, never truncated: every acknowledged byte is there
    named = f"record 2 at byte {records[1].offset}"
    code, output = serve_once(state, tmp_path)
    assert code != 0 and named in output, output

    repaired = exmech(state, "journal", "repair")
    assert repaired.returncode == 0, repaired.stderr
    backups = list(state.glob("journal.log.*.bak"))
    assert len(backups) == 1 and backups[0].read_bytes() == data
    assert f"backup of the journal as it was: {backups[0]}" in repaired.stdout
    lost = nanopub_of(records[1])
    assert f"dropped {named}" in repaired.stdout and lost in repaired.stdout, repaired.stdout
    assert "kept 3 sound records" in repaired.stdout
    assert exmech(state, "journal", "verify").returncode == 0

    server = start_server(state, tmp_path / "after.log")
    try:
        now = served(server.url)
    finally:
        stop_server(server)
    assert {nanopub_of(records[0]), nanopub_of(records[2]), new} <= now
    assert lost not in now


@pytest.mark.live
def test_an_old_v1_journal_is_served_appended_to_and_rebuilt(
    tmp_path: Path, built_state: Path
) -> None:
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    shutil.copy(V1_JOURNAL, state / "journal.log")
    old = [nanopub_of(r) for r in scan(V1_JOURNAL.read_bytes()).records]
    server = start_server(state, tmp_path / "server.log", EXMECH_TOKENS=KEYS)
    try:
        assert set(old) <= served(server.url)
        submit_live(server.url, "walking", "sleep")
    finally:
        stop_server(server)
    data = state / "journal.log"
    assert data.read_bytes().startswith(V1_JOURNAL.read_bytes())  # old records untouched
    assert [r.version for r in scan(data.read_bytes()).records] == [1, 1, 1, 2]
    checked = exmech(state, "journal", "verify")
    assert "4 sound records (3 in the older v1 format)" in checked.stdout, checked.stdout
    built = exmech(state, "build")
    assert built.returncode == 0 and "4 journal records" in built.stdout, built.stderr


def test_a_journal_shorter_than_what_the_store_applied_is_refused(state: Path) -> None:
    """An older copy of journal.log put back: the store holds claims the journal lacks."""
    journal = state / "journal.log"
    records = Journal(journal).scan().records
    journal.write_bytes(journal.read_bytes()[: records[1].end])
    with pytest.raises(JournalDamaged, match="applied 3 journal records but .* holds 2"):
        EmbeddedStore(Settings(state_dir=state, data_root=ROOT), workers=False)
