"""W3C SPARQL 1.1 syntax suites (syntax-query, syntax-fed) against the live endpoint (#15.2).

Every positive syntax test is sent to /sparql exactly as published and must be accepted: 200,
or a refusal by policy that is listed in REFUSED_BY_POLICY with its reason and its status.
Every negative syntax test must be rejected with 400 naming a syntax error. Counts go to
tests/artifacts/w3c-syntax.json; README.md quotes them.
"""

from __future__ import annotations

import json
from collections import Counter

import httpx
import manifest
import pytest
from conftest import ARTIFACTS, LiveServer

pytestmark = pytest.mark.live
ENTRIES = [entry for folder in ("syntax-query", "syntax-fed") for entry in manifest.load(folder)[1]]
ACCEPT = "application/sparql-results+json, text/turtle;q=0.9"
# Positive tests exmech refuses on purpose: file -> (status, words the message must hold, why).
REFUSED_BY_POLICY = {
    name: (403, "SERVICE", "SERVICE to <g>: exmech makes no outbound requests")
    for name in ("syntax-service-01.rq", "syntax-service-02.rq", "syntax-service-03.rq")
}
REFUSED_BY_POLICY["syntax-construct-where-02.rq"] = (
    403,
    "FROM",
    "FROM <file>: not a graph of this store, and exmech never fetches graphs",
)
# Positive tests the engine does not accept yet, each tied to its fix: none since issue 15
# point 1 landed (syntax-select-expr-04: unknown functions are expression errors;
# syntax-oneof-03: relative IRIs resolve against the endpoint's IRI).
ENGINE_GAPS: dict[str, tuple[str, str]] = {}
RESULTS: dict[str, str] = {}


def ident(entry: manifest.Entry) -> str:
    assert entry.action is not None
    return f"{entry.action.parent.name}/{entry.action.name}"


@pytest.mark.parametrize("entry", ENTRIES, ids=ident)
def test_w3c_syntax(live_server: LiveServer, entry: manifest.Entry) -> None:
    assert entry.action is not None
    reply = httpx.post(
        live_server.sparql,
        content=entry.action.read_bytes(),
        headers={"Content-Type": "application/sparql-query", "Accept": ACCEPT},
        timeout=30,
    )
    name = entry.action.name
    if entry.kind == "NegativeSyntaxTest11":
        RESULTS[ident(entry)] = "rejected" if reply.status_code == 400 else "NOT rejected"
        assert reply.status_code == 400, reply.text
        assert "syntax" in reply.text.lower(), reply.text
        return
    assert entry.kind == "PositiveSyntaxTest11"
    if name in REFUSED_BY_POLICY:
        status, words, _why = REFUSED_BY_POLICY[name]
        RESULTS[ident(entry)] = "refused by policy"
        assert reply.status_code == status and words in reply.text, reply.text
        return
    if name in ENGINE_GAPS and reply.status_code != 200:
        words, _why = ENGINE_GAPS[name]
        RESULTS[ident(entry)] = "engine gap (issue 15.1)"
        assert reply.status_code == 400 and words in reply.text, reply.text
        return
    RESULTS[ident(entry)] = "accepted" if reply.status_code == 200 else "NOT accepted"
    assert reply.status_code == 200, reply.text


def test_summary_is_written() -> None:
    """Runs last in this module: the counts per outcome, for README.md."""
    if len(RESULTS) != len(ENTRIES):
        pytest.skip("run the whole module to write the summary")
    kinds = Counter(entry.kind for entry in ENTRIES)
    summary = {
        "suites": ["sparql11/syntax-query", "sparql11/syntax-fed"],
        "positive": kinds["PositiveSyntaxTest11"],
        "negative": kinds["NegativeSyntaxTest11"],
        "outcomes": dict(Counter(RESULTS.values())),
        "refused_by_policy": {name: why for name, (_, _, why) in REFUSED_BY_POLICY.items()},
        "engine_gaps": {
            name: why
            for name, (_, why) in ENGINE_GAPS.items()
            if RESULTS.get(f"syntax-query/{name}") != "accepted"
        },
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "w3c-syntax.json").write_text(json.dumps(summary, indent=2) + "\n")
    allowed = {"accepted", "rejected", "refused by policy", "engine gap (issue 15.1)"}
    assert set(RESULTS.values()) <= allowed
