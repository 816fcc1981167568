"""/sparql cache hits of several exmech code trees side by side: req/s and server CPU per hit.

Each tree (a directory holding the ``exmech`` package, e.g. a ``git archive`` of another
commit's ``service/``) runs as its own ``exmech serve`` on a copy of the same built state;
every case (the questions of bench/run.py, hits only: the same text every request) is taken
in interleaved slices under wrk, in rotating order, so a neighbour's load hits the trees
alike. CPU per hit is the server process's utime + stime (/proc, all its threads) over the
slice divided by the requests answered, which does not depend on the neighbours as req/s
does. Not part of run.py::

    git archive main service | tar -x -C /tmp/base
    .venv/bin/python bench/hits.py --tree base=/tmp/base/service --tree new=service \
        --state /tmp/shipped-state --duration 3 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import run
import wrk

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", action="append", required=True, help="name=path of exmech's")
    parser.add_argument("--state", type=Path, required=True, help="a built state directory")
    parser.add_argument("--data-root", type=Path, default=run.REPO)
    parser.add_argument("--duration", type=int, default=3, help="seconds per slice")
    parser.add_argument("--rounds", type=int, default=2, help="slices per case and tree")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--only", default="", help="comma-separated question names")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    work = Path(tempfile.mkdtemp(prefix="exmech-hits-"))
    ds = run.Dataset("shipped", args.data_root, args.state, "muscle-strength", "costa-2009")
    questions = run.bench_queries(ds)
    if args.only:
        questions = {k: v for k, v in questions.items() if k in args.only.split(",")}
    cases = {name: [question] for name, question in questions.items()}
    cases["mix"] = list(questions.values())
    servers: dict[str, run.Server] = {}
    try:
        for name, tree in trees.items():
            state = work / f"{name}-state"
            shutil.copytree(args.state, state)
            port = run.free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("EXMECH_")}
            env |= {
                "PYTHONPATH": str(Path(tree).resolve()),
                "EXMECH_STATE_DIR": str(state),
                "EXMECH_DATA_ROOT": str(args.data_root),
                "EXMECH_PORT": str(port),
            }
            argv = [str(run.PYTHON), "-m", "exmech", "serve"]
            servers[name] = run.start(name, argv, env, work / f"{name}.log", port)
        names = list(servers)
        print(f"{'case':18} " + " ".join(f"{n + ' req/s':>14} {n + ' ms CPU':>12}" for n in names))
        for case, texts in cases.items():
            for server in servers.values():
                for text, accept in texts:
                    run.check(server, text, accept)
                    assert run.check(server, text, accept)["cache"] == "hit", server.name
            totals = {n: [0, 0.0, 0.0] for n in names}  # requests, seconds, cpu
            for r in range(args.rounds):
                for n in names[r % len(names) :] + names[: r % len(names)]:
                    server = servers[n]
                    before = cpu_seconds(server.process.pid)
                    result = wrk.run(
                        run.HOST,
                        server.port,
                        "/sparql",
                        texts,
                        False,
                        args.duration,
                        args.connections,
                    )
                    totals[n][0] += result.requests
                    totals[n][1] += result.seconds
                    totals[n][2] += cpu_seconds(server.process.pid) - before
            cells = []
            for n in names:
                requests, seconds, cpu = totals[n]
                cells.append(f"{requests / seconds:>14,.0f} {1000 * cpu / requests:>12.3f}")
            print(f"{case:18} " + " ".join(cells), flush=True)
    finally:
        for server in servers.values():
            run.stop(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
