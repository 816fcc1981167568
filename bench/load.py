"""Mixed load against a running exmech: no 5xx, and every accepted submission is readable.

N client threads (default 32) for a fixed time (default 60 s) each loop over a weighted mix:
SPARQL queries (GET and POST), /id pages (HTML and Turtle), /api questions, and
authenticated submissions of distinct valid claims. A claim is named by its assertion and
study, so each submission takes a fresh (exercise, mechanism, study) combination from the
shipped vocabulary (a shipped combination answers 200 "existing", which is counted apart).
After the run every claim that got 201 is fetched from /id/claim/{slug}; one that is not
there is "lost".

    python bench/load.py --url http://127.0.0.1:8000 --token exm_... [--clients 32] [--seconds 60]

The curator token can also come from EXMECH_TOKEN. tests/hostile/test_load.py runs the same
``run`` with 8 clients for 8 s. Prints one JSON report; exits 1 on a 5xx or a lost claim.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import httpx

ID = "https://w3id.org/exmech/id/"
MECHANISM = "https://w3id.org/exmech/ontology#proposedMechanism"
PROV = "http://www.w3.org/ns/prov#"
RESULTS_JSON = "application/sparql-results+json"
QUERIES = [
    "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    f"SELECT ?e ?m WHERE {{ ?e <{MECHANISM}> ?m }} LIMIT 50",
    "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } "
    "GROUP BY ?g ORDER BY DESC(?n) LIMIT 20",
    "ASK { ?s a ?type }",
    "CONSTRUCT WHERE { ?s a ?type } LIMIT 30",
]
API = [
    "/api/evidence-map",
    "/api/themes/frequencies",
    "/api/claims/by-evidence",
    "/api/mechanisms/motor-control/claims",
    "/api/exercises/yoga/mechanisms",
    "/api/studies/wun-2021",
]
PAGES = [
    "/id/mechanism/motor-control",
    "/id/exercise/yoga",
    "/id/study/wun-2021",
    "/",
    "/evidence-map",
]
# Relative weights of the request kinds each client draws from.
MIX = {"sparql": 40, "page": 20, "api": 25, "submit": 15}


@dataclass
class Report:
    """What a run saw: counts by kind and status, latency percentiles, lost claims."""

    clients: int
    seconds: float
    requests: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0
    transport_errors: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    submitted: int = 0  # 201
    existing: int = 0  # 200: the combination was already in the graph
    rejected: int = 0  # 4xx on a submission (422 from SHACL...)
    lost: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)  # first few 5xx / transport errors

    def summary(self) -> str:
        return (
            f"load: {self.clients} clients x {self.seconds:.0f} s, {self.requests} requests, "
            f"{self.server_errors} 5xx, {self.transport_errors} transport errors, "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, {self.submitted} claims "
            f"accepted (201), {self.existing} existing, {self.rejected} rejected, "
            f"{len(self.lost)} lost"
        )


def vocabulary(client: httpx.Client) -> tuple[list[str], list[str], list[str]]:
    """Exercises, mechanisms and studies (those claims already derive from) in the graph."""

    def column(query: str) -> list[str]:
        response = client.get("/sparql", params={"query": query}, headers={"Accept": RESULTS_JSON})
        response.raise_for_status()
        return sorted(b["x"]["value"] for b in response.json()["results"]["bindings"])

    def of(kind: str) -> str:
        return f'FILTER(STRSTARTS(STR(?x), "{ID}{kind}/"))'

    exercises = column(f"SELECT DISTINCT ?x WHERE {{ ?x <{MECHANISM}> ?m {of('exercise')} }}")
    mechanisms = column(f"SELECT DISTINCT ?x WHERE {{ ?e <{MECHANISM}> ?x {of('mechanism')} }}")
    studies = column(
        f"SELECT DISTINCT ?x WHERE {{ GRAPH ?g {{ ?a <{PROV}wasDerivedFrom> ?x }} {of('study')} }}"
    )
    return exercises, mechanisms, studies


class Claims:
    """A thread-safe supply of distinct (exercise, mechanism, study) combinations."""

    def __init__(
        self, exercises: list[str], mechanisms: list[str], studies: list[str], seed: int
    ) -> None:
        combos = list(itertools.product(exercises, mechanisms, studies))
        random.Random(seed).shuffle(combos)
        self._iter: Iterator[tuple[str, str, str]] = iter(combos)
        self._lock = threading.Lock()

    def next(self) -> tuple[str, str, str] | None:
        with self._lock:
            return next(self._iter, None)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (0 when empty).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5), percentile([1.0, 2.0, 3.0, 4.0], 0.99)
    (2.0, 4.0)
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1] if fraction < 1 else ordered[-1]


def run(
    url: str,
    token: str,
    clients: int = 32,
    seconds: float = 60.0,
    seed: int = 0,
    timeout: float = 60.0,
) -> Report:
    """Drive ``clients`` threads at ``url`` for ``seconds``, then check every 201 is readable."""
    report = Report(clients, seconds)
    with httpx.Client(base_url=url, timeout=timeout) as probe:
        claims = Claims(*vocabulary(probe), seed=seed)
    lock = threading.Lock()
    latencies: list[float] = []
    kinds: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    accepted: list[str] = []
    deadline = time.monotonic() + seconds
    auth = {"Authorization": f"Bearer {token}"}

    def request(
        client: httpx.Client, rng: random.Random
    ) -> tuple[str, Callable[[], httpx.Response]]:
        kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if kind == "sparql":
            query = rng.choice(QUERIES)
            accept = "text/turtle" if query.startswith("CONSTRUCT") else RESULTS_JSON
            if rng.random() < 0.5:
                return kind, lambda: client.get(
                    "/sparql", params={"query": query}, headers={"Accept": accept}
                )
            return kind, lambda: client.post(
                "/sparql",
                content=query.encode(),
                headers={"Accept": accept, "Content-Type": "application/sparql-query"},
            )
        if kind == "page":
            path = rng.choice(PAGES)
            turtle = path.startswith("/id/") and rng.random() < 0.5
            accept = "text/turtle" if turtle else "text/html"
            return kind, lambda: client.get(path, headers={"Accept": accept})
        if kind == "api":
            path = rng.choice(API)
            return kind, lambda: client.get(path, headers={"Accept": "application/json"})
        combo = claims.next()
        if combo is None:  # every combination used: read instead
            return "api", lambda: client.get(API[0])
        exercise, mechanism, study = combo
        params = {
            "study": study,
            "location": "abstract",
            "status": "NotMeasured",
            "wording": "load test claim",
        }
        body = f"<{exercise}> <{MECHANISM}> <{mechanism}> .".encode()
        return kind, lambda: client.post(
            "/curation/submissions",
            params=params,
            content=body,
            headers={**auth, "Content-Type": "text/turtle", "Accept": "application/json"},
        )

    def worker(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        with httpx.Client(base_url=url, timeout=timeout) as client:
            while time.monotonic() < deadline:
                kind, send = request(client, rng)
                started = time.perf_counter()
                try:
                    response = send()
                except httpx.HTTPError as exc:
                    with lock:
                        kinds[kind] += 1
                        report.transport_errors += 1
                        if len(report.samples) < 5:
                            report.samples.append(f"{kind}: {exc!r}")
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    kinds[kind] += 1
                    statuses[str(response.status_code)] += 1
                    if response.status_code >= 500:
                        report.server_errors += 1
                        if len(report.samples) < 5:
                            report.samples.append(
                                f"{kind} {response.status_code}: {response.text[:300]}"
                            )
                    if kind == "submit":
                        if response.status_code == 201:
                            accepted.extend(
                                n["slug"] for n in response.json()["nanopubs"] if not n["existing"]
                            )
                        elif response.status_code == 200:
                            report.existing += 1
                        elif response.status_code < 500:
                            report.rejected += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with httpx.Client(base_url=url, timeout=timeout) as client:
        for slug in accepted:
            response = client.get(f"/id/claim/{slug}", headers={"Accept": "text/turtle"})
            if response.status_code != 200 or slug not in response.text:
                report.lost.append(slug)

    report.requests = len(latencies) + report.transport_errors
    report.by_kind = dict(sorted(kinds.items()))
    report.statuses = dict(sorted(statuses.items()))
    report.p50_ms = round(percentile(latencies, 0.50), 1)
    report.p99_ms = round(percentile(latencies, 0.99), 1)
    report.submitted = len(accepted)
    report.seconds = seconds
    report.mean_ms = round(statistics.fmean(latencies), 1) if latencies else 0.0
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--token",
        default=os.environ.get("EXMECH_TOKEN", ""),
        help="a curator token (default: EXMECH_TOKEN)",
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a curator token is needed (--token or EXMECH_TOKEN)")
    report = run(args.url, args.token, args.clients, args.seconds, args.seed)
    print(json.dumps(asdict(report), indent=2))
    print(report.summary(), file=sys.stderr)
    return 1 if report.server_errors or report.lost or report.transport_errors else 0


if __name__ == "__main__":
    sys.exit(main())
