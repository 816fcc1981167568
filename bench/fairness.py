"""A trivial ASK's latency while 8 clients keep queries running to the timeout, as ratios.

    .venv/bin/python bench/fairness.py --measure 40

Two exmech servers over the shipped data, one after the other in the same run: ``lanes``
(the defaults: 2 slow-lane workers, 1 fast worker, short queue for slow queries, per-client
cap) and ``fifo`` (``EXMECH_FAST_WORKERS=0``, queue and per-client cap out of the way: one
line, first come first served, as exmech scheduled before). On each: the ASK alone (idle),
then 8 heavy clients, each from its own loopback address (127.0.0.10-17), send a cartesian
product that runs until ``EXMECH_QUERY_TIMEOUT`` (waiting 0.2 s after a 429/503), and after a
warm-up the ASK client (127.0.0.50) asks ``ASK { ?s ?p ?o }`` (a new comment each time, so no
cache answers it) back to back for the measured time. A request that gets no 200 within 30 s
counts as 30 s. Target: the ASK's p99 under load < 1 s with lanes; the ratios compare the
setups measured in the same run. Servers are stopped by their process group.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from run import EXMECH, REPO, RESULTS, Server, free_port, start, stop

RUNAWAY = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
ASK = "ASK { ?s ?p ?o }"
HEAVY_CLIENTS = 8
GIVE_UP = 30.0  # seconds; an ASK not answered by then counts as this
SETUPS: dict[str, dict[str, str]] = {
    "lanes": {},
    "fifo": {
        "EXMECH_FAST_WORKERS": "0",
        "EXMECH_QUERY_QUEUE": "64",
        "EXMECH_CLIENT_SLOW_QUERIES": "64",
    },
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def asks(url: str, seconds: float, address: str = "127.0.0.50") -> tuple[list[float], Counter]:
    """Back-to-back ASKs for ``seconds``: latencies (s) and status counts."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=GIVE_UP) as http:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                answer = http.get(url, params={"query": f"{ASK} # {uuid.uuid4()}"})
                statuses[str(answer.status_code)] += 1
                ok = answer.status_code == 200
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
                ok = False
            latencies.append(time.monotonic() - started if ok else GIVE_UP)
    return latencies, statuses


def heavy(url: str, address: str, stop_event: threading.Event, statuses: Counter) -> None:
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=120) as http:
        while not stop_event.is_set():
            try:
                answer = http.get(url, params={"query": RUNAWAY})
                statuses[str(answer.status_code)] += 1
                if answer.status_code in (429, 503) and "Retry-After" in answer.headers:
                    time.sleep(0.2)
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1


def summary(latencies: list[float], statuses: Counter) -> dict[str, Any]:
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "statuses": dict(statuses),
    }


def measure(name: str, state: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXMECH_")}
    env.update(
        EXMECH_STATE_DIR=str(state),
        EXMECH_DATA_ROOT=str(REPO),
        EXMECH_PORT=str(port),
        EXMECH_QUERY_TIMEOUT=str(args.timeout),
        EXMECH_LOG_REQUESTS="false",
        **SETUPS[name],
    )
    server: Server = start(name, [str(EXMECH), "serve"], env, work / f"{name}.log", port)
    url = f"http://127.0.0.1:{port}/sparql"
    try:
        idle = summary(*asks(url, args.idle))
        stop_event = threading.Event()
        heavy_statuses: Counter[str] = Counter()
        threads = [
            threading.Thread(
                target=heavy, args=(url, f"127.0.0.{10 + i}", stop_event, heavy_statuses)
            )
            for i in range(HEAVY_CLIENTS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(args.warmup)
        loaded = summary(*asks(url, args.measure))
        stop_event.set()
        for thread in threads:
            thread.join(timeout=args.timeout * 4 + 60)
        loaded["heavy_statuses"] = dict(heavy_statuses)
        return {"idle": idle, "loaded": loaded}
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=10.0, help="EXMECH_QUERY_TIMEOUT")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of ASKs alone")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of load first")
    parser.add_argument("--measure", type=float, default=40.0, help="seconds of ASKs under load")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="exmech-fairness-") as tmp:
        work = Path(tmp)
        state = work / "state"
        subprocess.run(
            [str(EXMECH), "--state-dir", str(state), "--data-root", str(REPO), "build"],
            check=True,
            capture_output=True,
        )
        results = {}
        for name in SETUPS:
            copy = work / f"{name}-state"
            subprocess.run(["cp", "-a", str(state), str(copy)], check=True)
            results[name] = measure(name, copy, work, args)
    lanes, fifo = results["lanes"]["loaded"], results["fifo"]["loaded"]
    report = {
        "started": started,
        "load_average": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "args": vars(args),
        "results": results,
        "ratios": {
            "fifo_p99_over_lanes_p99": round(fifo["p99_ms"] / lanes["p99_ms"], 1),
            "lanes_loaded_p99_over_idle_p99": round(
                lanes["p99_ms"] / results["lanes"]["idle"]["p99_ms"], 1
            ),
            "fifo_loaded_p99_over_idle_p99": round(
                fifo["p99_ms"] / results["fifo"]["idle"]["p99_ms"], 1
            ),
        },
        "target_lanes_p99_under_1s": lanes["p99_ms"] < 1000,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fairness-latest.json").write_text(json.dumps(report, indent=2))
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
