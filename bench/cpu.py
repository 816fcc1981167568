"""CPU time per request of exmech's /sparql misses beside the Oxigraph server, same data, same run.

Requests per second depend on what else the machine runs; the CPU a server spends on a
request does not (much). For each question this drives one server at a time with wrk (8
connections, a new text every request: a miss for exmech), and reads the utime + stime of
the server's whole process group (exmech: the waitress process and its query workers) from
/proc before and after: CPU ms per request = CPU used / requests answered. Req/s and p50 are
printed too, for context only.

    .venv/bin/python bench/cpu.py --seconds 3                 # shipped data, every question
    .venv/bin/python bench/cpu.py --synthetic --query theme-frequencies

Needs wrk and bench/.venv-oxigraph (``bench/run.py`` creates it); not part of run.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import generate
import run
import wrk

TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu(pgid: int) -> tuple[float, float]:
    """CPU seconds (user + system) used so far by process ``pgid`` (the server itself) and
    by every other live process of its group (exmech's query workers)."""
    own = others = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = (Path("/proc") / entry / "stat").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[1].split()
        if int(fields[2]) == pgid:  # field 5 of stat, the process group
            ticks = int(fields[11]) + int(fields[12])
            if int(entry) == pgid:
                own += ticks
            else:
                others += ticks
    return own / TICKS, others / TICKS


def case(server: run.Server, texts: list[tuple[str, str]], seconds: int) -> dict[str, float]:
    """One wrk case of misses; CPU ms per request of the server process and of the rest of
    its group."""
    wrk.run(run.HOST, server.port, server.path, texts, True, 1)  # warm-up
    own, others = group_cpu(server.process.pid)
    result = wrk.run(run.HOST, server.port, server.path, texts, True, seconds)
    own_after, others_after = group_cpu(server.process.pid)
    answered = max(result.requests, 1)
    return {
        "rps": result.rps,
        "p50_ms": result.p50s[0] if result.p50s else 0.0,
        "server_ms": 1000 * (own_after - own) / answered,
        "workers_ms": 1000 * (others_after - others) / answered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", action="store_true", help="the ~17k-quad graph")
    parser.add_argument("--query", action="append", choices=(*run.QUERY_NAMES, "mix"))
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--servers", default="exmech,oxigraph")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="exmech-cpu-"))
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
        texts = run.bench_queries(ds)
        names = args.query or [*run.QUERY_NAMES, "mix"]
        servers = [run.launch(kind, ds, work) for kind in args.servers.split(",")]
        try:
            print(
                f"{ds.name}, {args.seconds} s per case, load {os.getloadavg()[0]:.1f}; CPU ms "
                "per request: total (server process + its workers), req/s, p50 ms"
            )
            print(f"{'question':<18} " + "  ".join(f"{s.name:>36}" for s in servers))
            for name in names:
                chosen = [texts[n] for n in run.QUERY_NAMES] if name == "mix" else [texts[name]]
                cells = []
                for server in servers:
                    r = case(server, chosen, args.seconds)
                    cpu = r["server_ms"] + r["workers_ms"]
                    split = f"({r['server_ms']:.2f} + {r['workers_ms']:.2f})"
                    cells.append(f"{cpu:5.2f} {split:>15} {r['rps']:6.0f} {r['p50_ms']:5.1f}")
                print(f"{name:<18} " + "  ".join(f"{c:>36}" for c in cells), flush=True)
        finally:
            for server in servers:
                run.stop(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
