"""Profile exmech's request path under load with py-spy and print where the GIL time goes.

    .venv/bin/python bench/profile_exmech.py --mode hit --query theme-frequencies
    .venv/bin/python bench/profile_exmech.py --mode miss --query study-triples --synthetic

Starts ``exmech serve`` on the shipped data (or the ~17k synthetic graph), drives one case
with wrk (bench/wrk.py; bench/loadgen.py without it), and samples the server process (waitress)
and its query processes with ``py-spy record --gil`` (bench/.venv, see README), so only
Python time holding the GIL is counted. Prints inclusive shares per function, exmech's
first, and the GIL milliseconds per request they stand for.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import generate
import loadgen
import run
import wrk

PY_SPY = run.RDFLIB_VENV / "bin" / "py-spy"
FRAME = re.compile(r"(.*?) \((.*?):\d+\)")


def shares(raw: Path) -> tuple[int, collections.Counter[str]]:
    """(samples, inclusive samples per ``function (module path)``) from py-spy's raw output."""
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        total += int(count)
        names = set()
        for frame in stack.split(";"):
            match = FRAME.match(frame)
            if match:
                path = match.group(2).split("site-packages/")[-1].split("service/")[-1]
                names.add(f"{match.group(1)} ({path})")
        for name in names:
            inclusive[name] += int(count)
    return total, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("hit", "miss"), default="hit")
    parser.add_argument("--query", choices=(*run.QUERY_NAMES, "mix"), default="mix")
    parser.add_argument("--synthetic", action="store_true", help="use the ~17k-quad graph")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="exmech-profile-"))
    try:
        root = run.REPO
        ds = run.Dataset("shipped", root, work / "state", "muscle-strength", "costa-2009")
        if args.synthetic:
            root = work / "synthetic"
            generate.generate(17_000, root)
            ds = run.Dataset(
                "synthetic",
                root,
                work / "state",
                generate.mechanism_slug(1),
                generate.study_slug(1),
            )
        subprocess.run(
            [str(run.EXMECH), "--state-dir", str(ds.state), "--data-root", str(root), "build"],
            check=True,
            capture_output=True,
        )
        server = run.launch("exmech", ds, work)
        try:
            texts = run.bench_queries(ds)
            names = run.QUERY_NAMES if args.query == "mix" else (args.query,)
            chosen = [texts[n] for n in names]
            make = run.request_maker(server, chosen, args.mode == "miss")
            loadgen.run(run.HOST, server.port, make, 1.0)
            raw = work / "profile.txt"
            spy = subprocess.Popen(
                [
                    str(PY_SPY),
                    "record",
                    "-p",
                    str(server.process.pid),
                    "--subprocesses",
                    "--gil",
                    "--nonblocking",
                    "-r",
                    "250",
                    "-d",
                    str(args.seconds),
                    "--format",
                    "raw",
                    "-o",
                    str(raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            client = "wrk" if wrk.WRK else "loadgen"
            result = run.measure(server, chosen, args.mode == "miss", args.seconds + 1, 8, client)
            spy.wait(timeout=60)
        finally:
            run.stop(server)
        total, inclusive = shares(raw)
        # 250 samples per second of GIL time; per request at the rate measured meanwhile.
        per_request = total / 250 / args.seconds / result.rps * 1000 if result.rps else 0.0
        print(
            f"{args.mode} {args.query} on {ds.name}: {result.rps:.0f} req/s while sampled "
            f"({client}); {total} GIL samples in {args.seconds} s, "
            f"{per_request:.3f} ms of GIL time per request"
        )
        ranked = sorted(inclusive.items(), key=lambda kv: (-("exmech/" in kv[0]), -kv[1]))
        for name, count in ranked[: args.top]:
            share = count / total
            print(f"{100 * share:5.1f}%  {share * per_request:6.3f} ms  {name}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
