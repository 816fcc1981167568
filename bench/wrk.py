"""Drive a SPARQL protocol server with wrk (Debian package ``wrk``), the same case as loadgen.

loadgen.py is a Python client: on this 2-core machine it tops out near 13,000 req/s against
the Oxigraph server (wrk: 30,000+), so it would measure itself, not a fast server. wrk runs
the same closed loop (N keep-alive connections, fixed time) in C; a generated Lua script
posts each question as an ``application/sparql-query`` body, in turn, and for misses heads
every body with a comment never sent before. Results have loadgen.Result's summary shape.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

WRK = shutil.which("wrk")
_RUNS = iter(range(1 << 62))

SCRIPT = r"""
local texts = { %(texts)s }
local unique = %(unique)s
local run = "%(run)s"
local counter, tid, threads = 0, 0, 0
local fixed = {}

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local function format(t, body)
  return wrk.format("POST", t[1], {["Content-Type"] = "application/sparql-query",
                                   ["Accept"] = t[2]}, body)
end

function init(args)
  for i, t in ipairs(texts) do fixed[i] = format(t, t[3]) end
end

function request()
  counter = counter + 1
  local i = (counter %% #texts) + 1
  if not unique then return fixed[i] end
  local t = texts[i]
  return format(t, "# bench " .. run .. "-" .. tid .. "-" .. counter .. "\n" .. t[3])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "status_errors": %%d, ' ..
    '"socket_errors": %%d, "timeouts": %%d, "p50_us": %%f, "p95_us": %%f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write,
    e.timeout, latency:percentile(50), latency:percentile(95)))
end
"""


def _lua_string(text: str) -> str:
    """``text`` as a Lua long string whose brackets cannot occur inside it."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    # A long string drops one newline right after its opening bracket: add one to keep it.
    return f"[{eq}[\n{text}]{eq}]"


@dataclass
class Result:
    """What wrk measured in one or more slices; latencies in ms (slice means when merged)."""

    seconds: float
    requests: int = 0
    errors: int = 0
    p50s: list[float] = field(default_factory=list)
    p95s: list[float] = field(default_factory=list)
    abandoned: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def merged(self, other: Result) -> Result:
        return Result(
            self.seconds + other.seconds,
            self.requests + other.requests,
            self.errors + other.errors,
            self.p50s + other.p50s,
            self.p95s + other.p95s,
        )

    def summary(self) -> dict[str, object]:
        def mean(values: list[float]) -> float | None:
            return round(sum(values) / len(values), 3) if values else None

        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 2),
            "p50_ms": mean(self.p50s),
            "p95_ms": mean(self.p95s),
            "errors": self.errors,
            "abandoned": 0,
            "statuses": {},
            "client": "wrk",
        }


def run(
    host: str,
    port: int,
    path: str,
    texts: list[tuple[str, str]],
    unique: bool,
    seconds: int,
    connections: int = 8,
    threads: int = 2,
) -> Result:
    """``connections`` connections for ``seconds`` s cycling through (query, Accept) ``texts``."""
    if WRK is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    entries = ", ".join(
        f"{{{_lua_string(path)}, {_lua_string(accept)}, {_lua_string(text)}}}"
        for text, accept in texts
    )
    script = SCRIPT % {
        "texts": entries,
        "unique": "true" if unique else "false",
        "run": f"{os.getpid()}-{next(_RUNS)}",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [
                WRK,
                f"-t{min(threads, connections)}",
                f"-c{connections}",
                f"-d{max(1, int(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                handle.name,
                f"http://{host}:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    found = re.search(r"^WRKJSON (.*)$", out, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    data = json.loads(found.group(1))
    errors = data["status_errors"] + data["socket_errors"] + data["timeouts"]
    return Result(
        data["duration_us"] / 1e6,
        max(0, data["requests"] - data["status_errors"]),
        errors,
        [data["p50_us"] / 1000],
        [data["p95_us"] / 1000],
    )
