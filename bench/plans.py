"""Bound values as pyoxigraph substitutions or as a VALUES block: query latency side by side.

For one store size, writes a synthetic data root (bench/generate.py) and builds it (or reuses
a build in ``--work``), opens the snapshot the way the query workers do (in memory up to
``MEMORY_COPY_QUADS`` quads, RocksDB above), then times every shipped query that binds
values, each bound both ways: pyoxigraph's ``substitutions`` argument, and the VALUES block
``querytext.with_values`` writes first in the WHERE group (what both stores send now). Values
are tests/test_store.py's BINDS (the DOI as the graph writes it, as the API binds it after
study-by-doi). Median of ``--runs`` answers after one warm-up, serialized as SPARQL JSON;
the last column says whether both ways gave the same bytes. Prints a Markdown table;
``--all`` adds the queries that bind nothing (timed once per run, in the VALUES column).

    .venv/bin/python bench/plans.py --quads 100000
    .venv/bin/python bench/plans.py --quads 1000000 --work /tmp/exmech-plans --keep
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import pyoxigraph as ox  # noqa: E402
from exmech import queries  # noqa: E402
from exmech.build import build  # noqa: E402
from exmech.querytext import with_values  # noqa: E402
from exmech.settings import Settings  # noqa: E402
from exmech.store.embedded import MEMORY_COPY_QUADS, open_reader, read_meta  # noqa: E402
from test_store import BINDS  # noqa: E402

# The API looks a DOI up with study-by-doi first and binds it as the graph writes it.
VALUES_OF = {**BINDS, "doi": ("literal", "10.2519/jospt.2015.5021", "", "")}
JSON = ox.QueryResultsFormat.JSON


def term(binding: tuple[str, ...]) -> ox.NamedNode | ox.Literal:
    if binding[0] == "iri":
        return ox.NamedNode(binding[1])
    _, value, datatype, lang = binding
    if lang:
        return ox.Literal(value, language=lang)
    return ox.Literal(value, datatype=ox.NamedNode(datatype) if datatype else None)


def answer(result: Any) -> bytes:
    """A SELECT's solutions as SPARQL JSON (reading them all, as serving does)."""
    assert isinstance(result, ox.QuerySolutions)
    return result.serialize(format=JSON) or b""


def timed(answer: Callable[[], bytes], runs: int, budget: float) -> tuple[float, int, bytes]:
    """(median ms, answers timed, last body) of ``runs`` answers after one warm-up.

    Stops repeating once the query has used ``budget`` seconds (a slow one is timed fewer
    times, at least once).
    """
    started = time.perf_counter()
    body = answer()
    first = (time.perf_counter() - started) * 1000
    samples: list[float] = []
    while len(samples) < runs and (not samples or time.perf_counter() - started < budget):
        began = time.perf_counter()
        body = answer()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples or [first]), len(samples), body


def same_answer(a: bytes, b: bytes) -> str:
    """yes (same bytes), order (GROUP_CONCAT lists in another order only), or NO."""
    if a == b:
        return "yes"

    def rows(body: bytes) -> list[dict[str, Any]]:
        data = json.loads(body)
        out = []
        for row in data["results"]["bindings"]:
            for value in row.values():
                parts = value["value"].split(" ")
                if len(parts) > 1 and all(p.startswith("http") for p in parts):
                    value["value"] = " ".join(sorted(parts))
            out.append(row)
        return out

    return "GROUP_CONCAT order" if rows(a) == rows(b) else "NO"


def prepare(quads: int, work: Path) -> Path:
    """A built state dir for ``quads`` in ``work``, generated and built unless already there."""
    root, state = work / f"data-{quads}", work / f"state-{quads}"
    if read_meta(state) is None:
        generate = [sys.executable, str(REPO / "bench" / "generate.py")]
        subprocess.run(
            [*generate, "--quads", str(quads), "--out", str(root)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        build(Settings(state_dir=state, data_root=root))
    return state


def bench(state: Path, runs: int, budget: float, unbound: bool) -> tuple[int, bool, list[Any]]:
    meta = read_meta(state)
    assert meta is not None
    quads = int(meta["quads"])
    in_memory = quads <= MEMORY_COPY_QUADS
    snapshot = state / "snapshots" / (state / "CURRENT").read_text().strip()
    store = open_reader(str(snapshot), in_memory)
    rows = []
    for name in queries.names():
        named = queries.load(name)
        if named.form != "SELECT" or (not named.binds and not unbound):
            continue
        pairs = [(var, VALUES_OF[var]) for var in named.binds]
        bound = with_values(named.text, named.form, pairs)

        def by_values(text: str = bound) -> bytes:
            return answer(store.query(text, use_default_graph_as_union=True))

        values_ms, values_n, values_body = timed(by_values, runs, budget)
        row: dict[str, Any] = {
            "query": name,
            "rows": len(json.loads(values_body)["results"]["bindings"]),
            "values_ms": values_ms,
            "values_runs": values_n,
        }
        if pairs:
            subs = {ox.Variable(var): term(binding) for var, binding in pairs}

            def by_substitution(text: str = named.text, subs: Any = subs) -> bytes:
                return answer(
                    store.query(text, use_default_graph_as_union=True, substitutions=subs)
                )

            subs_ms, subs_n, subs_body = timed(by_substitution, runs, budget)
            row.update(
                substitutions_ms=subs_ms,
                substitutions_runs=subs_n,
                same=same_answer(subs_body, values_body),
            )
        rows.append(row)
    return quads, in_memory, rows


def table(quads: int, in_memory: bool, runs: int, rows: list[dict[str, Any]]) -> str:
    where = "in-memory copy" if in_memory else "RocksDB snapshot (Store.read_only)"
    lines = [
        f"{quads:,} quads, {where}, pyoxigraph {ox.__version__}; median ms of up to {runs} "
        "answers after a warm-up (fewer, at least 1, for slow ones: count in brackets)",
        "",
        "| query | rows | substitutions ms | VALUES ms | substitutions / VALUES | same answer |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        values = f"{row['values_ms']:,.2f}"
        if row["values_runs"] < runs:
            values += f" ({row['values_runs']})"
        if "substitutions_ms" not in row:
            lines.append(
                f"| {row['query']} | {row['rows']:,} | — | {values} | — | (binds nothing) |"
            )
            continue
        subs = f"{row['substitutions_ms']:,.2f}"
        if row["substitutions_runs"] < runs:
            subs += f" ({row['substitutions_runs']})"
        ratio = row["substitutions_ms"] / max(row["values_ms"], 1e-6)
        lines.append(
            f"| {row['query']} | {row['rows']:,} | {subs} | {values} | {ratio:,.1f}x | "
            f"{row['same']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quads", type=int, default=100_000, help="store size (100,000)")
    parser.add_argument("--runs", type=int, default=5, help="timed answers per case (5)")
    parser.add_argument(
        "--budget", type=float, default=10.0, help="seconds per case before repeats stop (10)"
    )
    parser.add_argument("--all", action="store_true", help="also time queries that bind nothing")
    parser.add_argument("--work", type=Path, help="folder for the data and build (reused)")
    parser.add_argument("--keep", action="store_true", help="keep a temporary work folder")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="exmech-plans-bench-"))
    try:
        state = prepare(args.quads, work)
        quads, in_memory, rows = bench(state, args.runs, args.budget, args.all)
    finally:
        if args.work is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(table(quads, in_memory, args.runs, rows))


if __name__ == "__main__":
    main()
