"""How often a bare-claim submission is parsed and serialized on its way into the store.

Counted on a real POST through the app (in-process store, pyshacl in its bounded child): the
pyoxigraph and rdflib entry points are wrapped with counters, and the properties that hold by
design are asserted: the submitted body is parsed once, the accepted quads are written once
(the journal's N-Quads) and parsed once by the store, and the claim reaches rdflib only as
the one N-Triples document pyshacl reads (the parent reads back only the report). The other
parses are the store's answers to the desk's and the validator's questions; bench/README.md
records the totals.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any

import pyoxigraph as ox
import pytest
import rdflib
from flask import Flask
from test_curation import ADA_TOKEN, FIELDS, KEYS, auth, bare

BODY = bare("yoga", "sleep")


@pytest.fixture(scope="module")
def app_settings() -> dict[str, object]:
    return {"tokens": KEYS, "curation_rate_limit": "off"}


def counting(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, seen: list[tuple[str, Any]]
) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def counted(*args: Any, **kwargs: Any) -> Any:
        first = args[0] if args else kwargs.get("data", kwargs.get("input"))
        seen.append((f"{getattr(owner, '__name__', owner)}.{name}", first))
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


def test_a_bare_claim_is_parsed_once_and_reaches_rdflib_once(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    # a first validation reads the shapes and the ontology's terms (kept) and starts the child
    warm = client.post(
        f"/curation/validate?{FIELDS}", data=bare("yoga", "mood"), content_type="text/turtle"
    )
    assert warm.status_code == 200, warm.get_json()
    seen: list[tuple[str, Any]] = []
    for owner, name in [
        (ox, "parse"),
        (ox, "serialize"),
        (ox, "parse_query_results"),
        (ox.QuerySolutions, "serialize"),
        (rdflib.Graph, "parse"),
        (rdflib.Graph, "serialize"),
    ]:
        counting(monkeypatch, owner, name, seen)
    response = client.post(
        f"/curation/submissions?{FIELDS}",
        data=BODY,
        content_type="text/turtle",
        headers=auth(ADA_TOKEN),
    )
    assert response.status_code == 201, response.get_json()
    claim = response.headers["Location"].encode()
    calls = Counter(name for name, _ in seen)
    print("parses and serializations in this process:", dict(sorted(calls.items())))  # -s
    texts = [(name, data) for name, data in seen if isinstance(data, bytes)]
    # the body, once; the accepted quads, written once (the journal's N-Quads) and read once
    # by the store that applies them
    assert [name for name, data in texts if data == BODY] == ["pyoxigraph.parse"]
    assert [name for name, data in texts if claim in data] == ["pyoxigraph.parse"]
    written = [d for n, d in seen if n == "pyoxigraph.serialize" and isinstance(d, list)]
    assert sum(any(isinstance(q, ox.Quad) for q in d) for d in written) == 1
    # rdflib in this process: the validation report read back from pyshacl's child, only
    assert calls["Graph.parse"] == 1 and calls["Graph.serialize"] == 0
