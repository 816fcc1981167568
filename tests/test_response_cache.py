"""The WSGI response cache in front of /sparql: hits skip the app, writes and errors do not."""

from __future__ import annotations

from typing import Any

from exmech.sparql import ResponseCache


class FakeEndpoint:
    """A WSGI app that answers like /sparql and counts how often it ran."""

    def __init__(self) -> None:
        self.calls = 0
        self.generation = "000000-a"
        self.status = "200 OK"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.calls += 1
        start_response(
            self.status,
            [
                ("Content-Type", "text/csv"),
                ("Exmech-Cache", "miss"),
                ("Exmech-Generation", self.generation),
            ],
        )
        return [f"call {self.calls} {environ.get('HTTP_ACCEPT', '')}".encode()]


def request(
    cache: ResponseCache, method: str = "GET", accept: str = "text/csv", qs: str = "query=ASK%7B%7D"
):
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/sparql",
        "QUERY_STRING": qs,
        "HTTP_ACCEPT": accept,
    }
    body = b"".join(cache(environ, start_response))
    return seen["status"], seen["headers"], body


def make() -> tuple[FakeEndpoint, ResponseCache]:
    app = FakeEndpoint()
    return app, ResponseCache(app, lambda: app.generation, entries=8, log=None)


def test_a_repeat_is_served_without_running_the_app() -> None:
    app, cache = make()
    first = request(cache)
    second = request(cache)
    assert app.calls == 1
    assert second[2] == first[2] == b"call 1 text/csv"
    assert first[1]["Exmech-Cache"] == "miss" and second[1]["Exmech-Cache"] == "hit"


def test_accept_and_query_string_are_part_of_the_key() -> None:
    app, cache = make()
    request(cache)
    request(cache, accept="application/sparql-results+json")
    request(cache, qs="query=ASK%7B%7D&format=tsv")
    assert app.calls == 3


def test_a_new_generation_is_never_answered_from_the_old_one() -> None:
    app, cache = make()
    request(cache)
    app.generation = "000001-b"
    status, headers, body = request(cache)
    assert app.calls == 2 and body == b"call 2 text/csv" and headers["Exmech-Cache"] == "miss"


def test_errors_posts_and_other_paths_are_not_cached() -> None:
    app, cache = make()
    app.status = "503 SERVICE UNAVAILABLE"
    request(cache)
    request(cache)
    assert app.calls == 2
    app.status = "200 OK"
    request(cache, method="POST")
    request(cache, method="POST")
    assert app.calls == 4


def test_lru_keeps_at_most_the_configured_entries() -> None:
    app, cache = make()
    for n in range(20):
        request(cache, qs=f"query={n}")
    request(cache, qs="query=0")
    assert app.calls == 21, "the oldest entry was evicted"
