"""Validation is bounded (issue 12, point 7): size, time and rate, each with a clear answer.

A real `exmech serve` with small limits: a dry run without a token over
EXMECH_MAX_DRY_RUN_BYTES is 413 before it is read; a validation past EXMECH_VALIDATION_TIMEOUT
is stopped (its process killed) with 503 while queries go on, and the next validation works;
curation POSTs over EXMECH_CURATION_RATE_LIMIT from one address get 429 with Retry-After,
while another address is still served and reads are never limited.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import LiveServer, start_server, stop_server
from exmech import tokens

pytestmark = pytest.mark.live
TOKEN, ENTRY = tokens.new_entry("https://example.org/curator/bounded", "Bounded Tester")
FIELDS = {"study": "wun-2021", "location": "abstract", "status": "NotMeasured", "wording": "x"}
CLAIM = (
    b"<https://w3id.org/exmech/id/exercise/yoga> "
    b"<https://w3id.org/exmech/ontology#proposedMechanism> "
    b"<https://w3id.org/exmech/id/mechanism/motor-control> ."
)
TURTLE = {"Content-Type": "text/turtle"}


def arbitrary(n: int) -> bytes:
    """``n`` triples about made-up resources: cheap to send, costly to validate."""
    ex = "https://example.org/"
    return "\n".join(f"<{ex}s{i}> <{ex}p{i % 7}> <{ex}o{i}> ." for i in range(n)).encode()


def launch(base: Path, built_state: Path, **env: str) -> LiveServer:
    shutil.copytree(built_state, base / "state")
    return start_server(base / "state", base / "server.log", EXMECH_TOKENS=ENTRY.line(), **env)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[LiveServer]:
    live = launch(
        tmp_path_factory.mktemp("bounded"),
        built_state,
        EXMECH_VALIDATION_TIMEOUT="3",
        EXMECH_MAX_DRY_RUN_BYTES="4000",
    )
    try:
        yield live
    finally:
        stop_server(live)


def validate(server: LiveServer, body: bytes, token: str | None = None) -> httpx.Response:
    headers = {**TURTLE, **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx.post(
        f"{server.url}/curation/validate", params=FIELDS, content=body, headers=headers, timeout=120
    )


def test_an_anonymous_dry_run_over_its_cap_is_413_and_a_curator_is_not_held_to_it(
    server: LiveServer,
) -> None:
    body = arbitrary(60)
    assert 4000 < len(body) < 20000
    refused = validate(server, body)
    assert refused.status_code == 413, refused.text
    assert "EXMECH_MAX_DRY_RUN_BYTES" in refused.json()["error"]
    assert validate(server, CLAIM).status_code == 200  # small ones are fine
    curator = validate(server, body, TOKEN)
    assert curator.status_code != 413, curator.text


def test_a_validation_past_its_time_limit_is_stopped_and_the_next_one_works(
    server: LiveServer,
) -> None:
    assert validate(server, CLAIM, TOKEN).status_code == 200  # its process is started
    stopped = validate(server, arbitrary(600), TOKEN)
    assert stopped.status_code == 503, stopped.text[:500]
    assert "EXMECH_VALIDATION_TIMEOUT" in stopped.json()["error"]
    ask = httpx.get(server.sparql, params={"query": "ASK { ?s ?p ?o }"}, timeout=10)
    assert ask.status_code == 200 and ask.json()["boolean"] is True
    again = validate(server, CLAIM, TOKEN)
    assert again.status_code == 200 and again.json()["conforms"] is True
    assert server.process.poll() is None


def test_curation_posts_over_the_rate_limit_get_429_per_address(
    tmp_path: Path, built_state: Path
) -> None:
    limited = launch(tmp_path, built_state, EXMECH_CURATION_RATE_LIMIT="3 per minute")
    try:
        answers = [validate(limited, CLAIM) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429], answers[-1].text
        refused = answers[-1]
        assert "EXMECH_CURATION_RATE_LIMIT" in refused.json()["error"]
        assert int(refused.headers["Retry-After"]) > 0
        for _ in range(5):  # reads are never limited
            page = httpx.get(f"{limited.url}/curation", timeout=10)
            assert page.status_code == 200
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with other:
            response = other.post(
                f"{limited.url}/curation/validate",
                params=FIELDS,
                content=CLAIM,
                headers=TURTLE,
                timeout=60,
            )
        assert response.status_code == 200, response.text
    finally:
        stop_server(limited)
