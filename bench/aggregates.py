"""The aggregate questions on the embedded store: kept counts (store/aggregates.py) and the engine.

For a data root already built (``generate.py`` then ``exmech build``), opens the embedded store
as the server does (query workers, aggregates on) and times, one request at a time, each
question as the API asks it (10,000-row cap):

* how long the counts take to be ready when the store opens: scanning the snapshot (no
  checkpoint), then loading the checkpoint on a second open;
* each question's first answer on a generation (rendered) and a repeat (the same table), as
  /api takes it (``Store.execute``: TSV parsed into terms), then as /sparql sends it for the
  question's exact text (``Store.query``, SPARQL JSON: pyoxigraph converts the kept TSV);
* a few curation-shaped writes (a new claim, a correction, a retraction; N-Quads through
  ``EmbeddedStore.add``), each write's time and the first answer of every question after it;
* with ``--engine``, each question once more with the aggregates off (pyoxigraph runs the .rq).

Writes go to the state directory given, so run it on a copy you can throw away.

    .venv/bin/python bench/aggregates.py --root /tmp/exmech-1m --engine
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path
from typing import Any

from exmech import queries, vocab
from exmech.nanopub import claim_slug
from exmech.querytext import analyse, with_row_cap
from exmech.settings import Settings
from exmech.store import Query, embedded
from exmech.store.aggregates import QUESTIONS
from exmech.store.embedded import EmbeddedStore

MAX_ROWS = 10_000
ID, EXM, NP, NPX, PROV = vocab.ID, vocab.EXM, vocab.NP, vocab.NPX, vocab.PROV
RDF_TYPE = f"{vocab.RDF}type"


def api_query(name: str) -> Query:
    """The question as provenance.answers asks it."""
    named = queries.load(name)
    return Query(
        text=named.text,
        form=named.form,
        media_type="application/sparql-results+json",
        capped_text=with_row_cap(analyse(named.text), MAX_ROWS + 1),
        max_rows=MAX_ROWS,
    )


def ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def ask(store: EmbeddedStore, name: str) -> tuple[float, int]:
    """One answer as /api takes it (``Store.execute``: SPARQL TSV parsed into terms)."""
    started = time.perf_counter()
    results = store.execute(api_query(name))
    return ms(started), len(results.rows)


def ask_json(store: EmbeddedStore, name: str) -> float:
    """The same answer as /sparql sends it for the question's exact text (SPARQL JSON)."""
    started = time.perf_counter()
    store.query(api_query(name))
    return ms(started)


def nanopub(
    n: int, study: str, link: str = "proposedMechanism", extra: str = ""
) -> tuple[str, str]:
    """N-Quads of one bench claim (IRI, text), four graphs as docs/model.md has them."""
    exercise, mechanism = f"{ID}exercise/yoga", f"{ID}mechanism/synthetic-{n % 5 + 1:06d}"
    import pyoxigraph as ox

    triple = (ox.NamedNode(exercise), ox.NamedNode(EXM + link), ox.NamedNode(mechanism))
    slug = claim_slug([triple], f"{ID}study/{study}") + f"b{n}"
    claim, g = f"{ID}claim/{slug}", f"{ID}graph/{slug}"
    return claim, (
        f"<{claim}> <{RDF_TYPE}> <{EXM}Claim> <{g}-head> .\n"
        f"<{claim}> <{NP}hasAssertion> <{g}-assertion> <{g}-head> .\n"
        f"<{claim}> <{NP}hasProvenance> <{g}-provenance> <{g}-head> .\n"
        f"<{claim}> <{NP}hasPublicationInfo> <{g}-pubinfo> <{g}-head> .\n"
        f"<{exercise}> <{EXM}{link}> <{mechanism}> <{g}-assertion> .\n"
        f"<{g}-assertion> <{PROV}wasDerivedFrom> <{ID}study/{study}> <{g}-provenance> .\n"
        + extra.replace("PUBINFO", f"{g}-pubinfo").replace("CLAIM", claim)
    )


class Phases:
    """Where a write's time goes: the snapshot publish, the kept counts, Python's cyclic
    garbage collector (its pauses, by generation), and the rest (journal, engine write)."""

    def __init__(self, store: EmbeddedStore) -> None:
        self.times: dict[str, float] = {}
        publish = embedded.publish_snapshot
        keeper = store._keeper
        assert keeper is not None
        folded = keeper.published

        def timed(name: str, call: Any) -> Any:
            def run(*args: Any) -> Any:
                started = time.perf_counter()
                try:
                    return call(*args)
                finally:
                    self.add(name, started)

            return run

        embedded.publish_snapshot = timed("publish_ms", publish)  # type: ignore[assignment]
        keeper.published = timed("counts_ms", folded)  # type: ignore[method-assign]
        self._gc_started = 0.0
        gc.callbacks.append(self._gc)

    def add(self, name: str, started: float) -> None:
        self.times[name] = self.times.get(name, 0.0) + (time.perf_counter() - started) * 1000

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.add(f"gc{info['generation']}_ms", self._gc_started)

    def take(self) -> dict[str, float]:
        out, self.times = {k: round(v, 1) for k, v in sorted(self.times.items())}, {}
        return out


def writes(store: EmbeddedStore, count: int) -> list[dict[str, Any]]:
    """``count`` rounds of: a new claim, a correction of it, a retraction of the correction."""
    rows = []
    phases = Phases(store)
    study = "synthetic-2001-000001"
    for i in range(count):
        claim, text = nanopub(3 * i, study)
        newer, correction = nanopub(
            3 * i + 1, study, extra=f"<CLAIM> <{NPX}supersedes> <{claim}> <PUBINFO> .\n"
        )
        retraction = f"{ID}claim/bench-retraction-{i}"
        g = f"{ID}graph/bench-retraction-{i}"
        retract = (
            f"<{retraction}> <{RDF_TYPE}> <{EXM}Retraction> <{g}-head> .\n"
            f"<{retraction}> <{NP}hasAssertion> <{g}-assertion> <{g}-head> .\n"
            f"<{ID}curator/synthetic-generator> <{NPX}retracts> <{newer}> <{g}-assertion> .\n"
        )
        for kind, payload in (("claim", text), ("correction", correction), ("retraction", retract)):
            started = time.perf_counter()
            phases.take()
            store.add(payload.encode())
            row: dict[str, Any] = {"write": kind, "add_ms": ms(started), **phases.take()}
            for name in QUESTIONS:
                row[name] = ask(store, name)[0]
            for name in QUESTIONS:  # the table is kept: this is the conversion to JSON
                row[f"{name} as JSON"] = ask_json(store, name)
            row["gc_while_answering"] = phases.take()
            rows.append(row)
            print(row, flush=True)
    return rows


def wait_ready(store: EmbeddedStore) -> float:
    started = time.perf_counter()
    keeper = store._keeper
    assert keeper is not None
    keeper.ready.wait()
    assert keeper.aggregates is not None, "aggregates did not load (see the log)"
    return ms(started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="data root built with state/")
    parser.add_argument("--state", type=Path, help="state directory (default: ROOT/state)")
    parser.add_argument("--writes", type=int, default=2, help="rounds of three writes (2)")
    parser.add_argument("--repeats", type=int, default=3, help="repeat answers timed (3)")
    parser.add_argument("--engine", action="store_true", help="also time the engine (slow)")
    parser.add_argument(
        "--checkpoint", action="store_true", help="start from aggregates.bin (no first scan)"
    )
    args = parser.parse_args()
    state = args.state or args.root / "state"
    limits: dict[str, Any] = {"max_rows": MAX_ROWS, "query_timeout": 3600.0, "cache_entries": 0}
    settings = Settings(state_dir=state, data_root=args.root, **limits)
    print(f"load average at start: {os.getloadavg()}", flush=True)
    if not args.checkpoint:
        (state / "aggregates.bin").unlink(missing_ok=True)
    store = EmbeddedStore(settings)
    report: dict[str, Any] = {"load_ms" if args.checkpoint else "scan_ms": wait_ready(store)}
    print(report, flush=True)
    for name in QUESTIONS:
        first, rows = ask(store, name)
        again = statistics.median(ask(store, name)[0] for _ in range(args.repeats))
        report[name] = {
            "rows": rows,
            "first_ms": first,
            "repeat_ms": again,
            "as_json_ms": ask_json(store, name),
        }
        print(name, report[name], flush=True)
    report["writes"] = writes(store, args.writes)
    started = time.perf_counter()
    store.close()
    report["close_ms (checkpoint written)"] = ms(started)
    report["checkpoint_bytes"] = (state / "aggregates.bin").stat().st_size
    store = EmbeddedStore(settings)
    report["reopen_ms (checkpoint loaded)"] = wait_ready(store)
    store.close()
    print(report, flush=True)
    if args.engine:
        engine = EmbeddedStore(
            Settings(state_dir=state, data_root=args.root, aggregates=False, **limits)
        )
        for name in QUESTIONS:
            report[name]["engine_ms"], _ = ask(engine, name)
            print(name, "engine", report[name]["engine_ms"], flush=True)
        engine.close()
    print(f"load average at end: {os.getloadavg()}")
    print(report)


if __name__ == "__main__":
    main()
