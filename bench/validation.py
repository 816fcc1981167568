"""Does validating a submission stay flat as the store grows? Time it from the shipped data to ~1M.

For each store size this writes a data root with ``bench/generate.py`` (the shipped data plus
synthetic studies, mechanisms and claims), builds the embedded store, and times what the
curation service does with a submission before accepting it (``Curation.check``: naming,
context read from the store for just the IRIs it mentions, pyshacl on the submission's
nodes), through the real query worker processes. The submissions are the valid fixtures of
tests/data/submissions. Stores are measured in interleaved rounds, so a busy machine slows
all sizes alike. It also counts the context triples handed to pyshacl (they should not
change with the store) and, up to a size, times the naive way for contrast: the whole data
root as context (``exmech validate`` without ``--store``).

    .venv/bin/python bench/validation.py                       # shipped, 100k, 1M quads
    .venv/bin/python bench/validation.py --sizes 0,50000 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import pyoxigraph as ox

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from exmech import curation, tokens  # noqa: E402
from exmech.build import build  # noqa: E402
from exmech.settings import Settings  # noqa: E402
from exmech.store.embedded import EmbeddedStore  # noqa: E402
from exmech.validation import file_context, parse_file, reference_quads, validate  # noqa: E402
from generate import generate  # noqa: E402

FIXTURES = sorted((REPO / "tests" / "data" / "submissions" / "valid").glob("*.trig"))


def fields_of(path: Path) -> curation.Fields:
    """The request fields a fixture declares in its ``# fields:`` header line."""
    for line in path.read_text().splitlines():
        if line.startswith("# fields: "):
            return curation.Fields.of(dict(parse_qsl(line.removeprefix("# fields: "))))
    return curation.Fields()


@dataclass
class Subject:
    """One built store and the curation desk in front of it."""

    quads: int
    build_s: float
    store: EmbeddedStore
    desk: curation.Curation
    context_triples: int = 0
    samples: list[float] = field(default_factory=list)
    whole_ms: float | None = None


def open_subject(root: Path, state: Path) -> Subject:
    """Build the store for ``root`` and count the context each fixture fetches from it."""
    started = time.perf_counter()
    report = build(Settings(state_dir=state, data_root=root))
    built = time.perf_counter() - started
    _token, entry = tokens.new_entry("https://example.org/curator/ada", "Ada Example")
    settings = Settings(state_dir=state, data_root=root, tokens=entry.line())
    store = EmbeddedStore(settings)
    desk = curation.Curation(settings, store)
    subject = Subject(report.quads, built, store, desk)
    provide = desk.context

    def counting(iris: set[str]) -> Sequence[ox.Quad]:
        graph = provide(iris)
        subject.context_triples += len(graph)
        return graph

    desk.context = counting
    for path in FIXTURES:
        checked = desk.check(parse_file(path), curator(entry), fields_of(path))
        assert checked.report.conforms, (path.name, checked.report.to_text())
    desk.context = provide
    return subject


def curator(entry: tokens.Entry) -> curation.Curator:
    return curation.Curator(entry.curator, entry.name)


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="0,100000,1000000",
        help="target quads per store, 0 = the shipped data (0,100000,1000000)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (5)")
    parser.add_argument(
        "--contrast-up-to",
        type=int,
        default=100_000,
        help="also time whole-data validation up to this size (100000)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    who = curation.Curator("https://example.org/curator/ada", "Ada Example")
    work = [(parse_file(p), fields_of(p)) for p in FIXTURES]
    with tempfile.TemporaryDirectory(prefix="exmech-bench-validation-") as tmp:
        subjects = []
        for size in sizes:
            root = REPO if size == 0 else Path(tmp) / f"root-{size}"
            if size:
                generate(size, root)
            subject = open_subject(root, Path(tmp) / f"state-{size}")
            if size <= args.contrast_up_to:
                subject.whole_ms = timed(lambda r=root: validate(work[0][0], r, file_context(r)))
                reference_quads.cache_clear()
            subjects.append(subject)
            print(f"built {subject.quads} quads in {subject.build_s:.1f} s", file=sys.stderr)
        try:
            for _ in range(args.rounds):
                for subject in subjects:
                    for quads, fields in work:
                        subject.samples.append(
                            timed(lambda s=subject, q=quads, f=fields: s.desk.check(q, who, f))
                        )
        finally:
            for subject in subjects:
                subject.store.close()
    base = statistics.median(subjects[0].samples)
    print(
        f"{len(FIXTURES)} submissions x {args.rounds} interleaved rounds, through the query "
        "workers\n"
    )
    print(
        "| store quads | build s | context triples | check median ms | p90 ms | min ms "
        "| vs smallest | whole-data context ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in subjects:
        median = statistics.median(s.samples)
        whole = f"{s.whole_ms:.0f}" if s.whole_ms is not None else "—"
        print(
            f"| {s.quads:,} | {s.build_s:.1f} | {s.context_triples} | {median:.1f} | "
            f"{statistics.quantiles(s.samples, n=10)[-1]:.1f} | {min(s.samples):.1f} | "
            f"{median / base:.2f}x | {whole} |"
        )


if __name__ == "__main__":
    main()
