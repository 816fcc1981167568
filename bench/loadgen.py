"""A small closed-loop HTTP/1.1 load generator: N keep-alive connections for a fixed time.

Standard library only (asyncio streams), so the client costs little CPU next to the server
on a 2-core machine. Every connection sends a request, reads the whole response, records
the latency and sends the next one until the deadline; requests still running then get
``grace`` seconds to finish, after which they are abandoned (and reported as such).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def post(host: str, port: int, query: str, accept: str, path: str = "/sparql") -> bytes:
    """A SPARQL protocol POST (``application/sparql-query`` body) as raw bytes.

    >>> post("h", 1, "ASK {}", "a/b").split(b"\\r\\n")[0]
    b'POST /sparql HTTP/1.1'
    """
    body = query.encode("utf-8")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: {accept}\r\n"
        f"Content-Type: application/sparql-query\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response (Content-Length or chunked); (status, server wants to close)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if b"content-length" in headers:
        await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding") == b"chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get(b"connection") == b"close"


@dataclass
class Result:
    """What one case measured; latencies in seconds."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    abandoned: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        """The q-quantile latency in ms, or None without completed requests."""
        if not self.latencies:
            return None
        if len(self.latencies) == 1:
            return self.latencies[0] * 1000
        return (
            statistics.quantiles(self.latencies, n=100, method="inclusive")[round(q * 100) - 1]
            * 1000
        )

    def merged(self, other: Result) -> Result:
        """Both measurements as one (slices of one case taken at different times)."""
        statuses = dict(self.statuses)
        for status, count in other.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
        return Result(
            self.seconds + other.seconds,
            self.latencies + other.latencies,
            self.errors + other.errors,
            self.abandoned + other.abandoned,
            statuses,
        )

    def summary(self) -> dict[str, object]:
        p50, p95 = self.percentile(0.50), self.percentile(0.95)
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 2),
            "p50_ms": None if p50 is None else round(p50, 3),
            "p95_ms": None if p95 is None else round(p95, 3),
            "errors": self.errors,
            "abandoned": self.abandoned,
            "statuses": self.statuses,
        }


async def _load(
    host: str,
    port: int,
    make: Callable[[int], bytes],
    duration: float,
    connections: int,
    grace: float,
) -> Result:
    counter = itertools.count()
    result = Result(seconds=0.0)
    start = time.perf_counter()
    deadline = start + duration
    last = start

    async def connection() -> None:
        nonlocal last
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                payload = make(next(counter))
                sent = time.perf_counter()
                writer.write(payload)
                status, close = await read_response(reader)
                done = time.perf_counter()
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == 200:
                    result.latencies.append(done - sent)
                    last = max(last, done)
                else:
                    result.errors += 1
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    tasks = [asyncio.create_task(connection()) for _ in range(connections)]
    finished, pending = await asyncio.wait(tasks, timeout=duration + grace)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    result.abandoned = len(pending)
    for task in finished:
        if task.exception() is not None:
            result.errors += 1
    result.seconds = (last - start) if result.latencies else time.perf_counter() - start
    return result


def run(
    host: str,
    port: int,
    make: Callable[[int], bytes],
    duration: float,
    connections: int = 8,
    grace: float = 10.0,
) -> Result:
    """Drive ``connections`` keep-alive connections for ``duration`` s; ``make(i)`` is request i."""
    return asyncio.run(_load(host, port, make, duration, connections, grace))
