"""Build time and query latency of the remote store (Virtuoso) beside the embedded one.

For each size, writes a synthetic data root (bench/generate.py), builds it into a fresh
embedded store and into a throwaway Virtuoso (tests/virtuoso.py), then times a few named
questions through each store's ``query`` (the code path /sparql uses, without HTTP in front
of exmech), one request at a time. Prints a Markdown table; ``--json`` also writes the rows.

    .venv/bin/python bench/remote.py --quads 100000 1000000
    .venv/bin/python bench/remote.py --quads 1000000 --cases aggregates --stores virtuoso --runs 5
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import virtuoso  # noqa: E402  (tests/virtuoso.py)
from exmech import queries  # noqa: E402
from exmech.build import build  # noqa: E402
from exmech.querytext import analyse, with_row_cap  # noqa: E402
from exmech.settings import Settings  # noqa: E402
from exmech.store import Query  # noqa: E402
from exmech.store.embedded import EmbeddedStore  # noqa: E402
from exmech.store.remote import RemoteStore  # noqa: E402

ID = "https://w3id.org/exmech/id/"
CASES = {  # name: (shipped query, bound values)
    "claims per theme": ("claims-per-theme", ()),
    "one mechanism's claims": (
        "mechanism-claims",
        (("mechanism", ("iri", ID + "mechanism/muscle-strength")),),
    ),
    "one study's claims": ("study-claims", (("study", ("iri", ID + "study/rae-2020")),)),
    "class counts": ("class-counts", ()),
    # The other questions over every claim (on the embedded store, bench/aggregates.py).
    "evidence map": ("evidence-map", ()),
    "claims by evidence": ("claims-by-evidence", ()),
    "theme frequencies": ("theme-frequencies-recomputed", ()),
}


AGGREGATES = ("claims per theme", "evidence map", "claims by evidence", "theme frequencies")


def timed(store: Any, name: str, binds: tuple[Any, ...], runs: int, max_rows: int) -> float:
    """Median milliseconds of ``runs`` answers (after one warm-up)."""
    named = queries.load(name)
    info = analyse(named.text)
    query = Query(
        text=named.text,
        form=named.form,
        media_type="application/sparql-results+json",
        capped_text=with_row_cap(info, max_rows + 1),
        substitutions=binds,
        max_rows=max_rows,
    )
    store.query(query)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        store.query(query)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def bench(
    quads: int, work: Path, runs: int, buffers: int, cases: list[str], labels: list[str]
) -> list[dict[str, Any]]:
    root = work / f"data-{quads}"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "generate.py"),
            "--quads",
            str(quads),
            "--out",
            str(root),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    limits = {"max_rows": 10_000, "query_timeout": 60.0, "cache_entries": 0}
    embedded = Settings(state_dir=work / f"embedded-{quads}", data_root=root, **limits)
    started = time.perf_counter()
    report = build(embedded)
    rows = [
        {
            "quads": report.quads,
            "store": "embedded",
            "case": "build",
            "ms": (time.perf_counter() - started) * 1000,
        }
    ]
    server = virtuoso.start(work / f"virtuoso-{quads}", max_rows=1_000_000, buffers=buffers)
    try:
        remote = Settings.load(
            server.env, state_dir=work / f"remote-{quads}", data_root=root, **limits
        )
        started = time.perf_counter()
        build(remote)
        rows.append(
            {
                "quads": report.quads,
                "store": "virtuoso",
                "case": "build",
                "ms": (time.perf_counter() - started) * 1000,
            }
        )
        stores: dict[str, Any] = {}
        if "embedded" in labels:
            stores["embedded"] = EmbeddedStore(embedded, workers=False)
        if "virtuoso" in labels:
            stores["virtuoso"] = RemoteStore(remote)
        for case in cases:
            name, binds = CASES[case]
            for label, store in stores.items():
                ms = timed(store, name, binds, runs, limits["max_rows"])
                rows.append({"quads": report.quads, "store": label, "case": case, "ms": ms})
                print(rows[-1], flush=True)
        for store in stores.values():
            store.close()
    finally:
        server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quads", type=int, nargs="+", default=[100_000])
    parser.add_argument("--runs", type=int, default=20, help="timed answers per case (20)")
    parser.add_argument(
        "--buffers", type=int, default=340_000, help="Virtuoso's 8 kB page buffers (340,000)"
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        default=list(CASES),
        help="cases to time, by name, or 'aggregates' for the four over every claim (all)",
    )
    parser.add_argument(
        "--stores",
        nargs="+",
        choices=("embedded", "virtuoso"),
        default=["embedded", "virtuoso"],
        help="stores to query (both; the embedded engine takes minutes per question at 10M)",
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    cases = [c for case in args.cases for c in (AGGREGATES if case == "aggregates" else [case])]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; known: {list(CASES)}")
    work = Path(tempfile.mkdtemp(prefix="exmech-remote-bench-"))
    try:
        rows = [
            row
            for quads in args.quads
            for row in bench(quads, work, args.runs, args.buffers, cases, args.stores)
        ]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("| quads | case | embedded (ms) | Virtuoso via exmech (ms) |")
    print("|---:|---|---:|---:|")
    table: dict[tuple[int, str], dict[str, float]] = {}
    for row in rows:
        table.setdefault((row["quads"], row["case"]), {})[row["store"]] = row["ms"]
    for (quads, case), cells in table.items():
        shown = [f"{cells[s]:,.1f}" if s in cells else "not run" for s in ("embedded", "virtuoso")]
        print(f"| {quads:,} | {case} | {' | '.join(shown)} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
