"""The WSGI response cache in front of /sparql: hits skip the app, writes and errors do not;
on a live server, hits are answered on waitress's loop thread with the app's own headers."""

from __future__ import annotations

import io
import re
import shutil
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from conftest import LiveServer, start_server, stop_server
from exmech import tokens, vocab
from exmech.headers import EVERY_RESPONSE
from exmech.sparql import ANSWER, REPLAY, ResponseCache
from exmech.store import Answer, Query, Results
from exmech.store.cache import AnswerCache


class FakeEndpoint:
    """A WSGI app that answers like /sparql and counts how often it ran: through the app's
    answer cache (it is also the fake store behind it), leaving the Answer it sent in the
    environ, as the endpoint does."""

    def __init__(self, entries: int = 8) -> None:
        self.calls = 0
        self.generation = "000000-a"
        self.status = "200 OK"
        self.bodies: list[bytes] = []
        self.padding = b""  # added to every answer
        self.cache = AnswerCache(self, entries)  # type: ignore[arg-type]

    def query(self, query: Query) -> Answer:
        body = f"call {self.calls} {query.media_type}".encode() + self.padding
        return Answer(body, query.media_type, 1, False, self.generation)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.calls += 1
        body = environ["wsgi.input"].read()
        self.bodies.append(body)
        text = f"{environ.get('QUERY_STRING', '')} {body.decode()}"
        answer = self.cache.query(Query(text, "SELECT", environ.get("HTTP_ACCEPT", "")))
        environ[ANSWER] = answer
        start_response(
            self.status,
            [
                ("Content-Type", "text/csv"),
                ("Exmech-Cache", "hit" if answer.cached else "miss"),
                ("Exmech-Generation", answer.generation),
            ],
        )
        return [answer.body]


def environ_of(
    method: str = "GET",
    accept: str = "text/csv",
    qs: str = "query=ASK%7B%7D",
    body: bytes | None = None,
    content_type: str = "application/sparql-query",
) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/sparql",
        "QUERY_STRING": qs,
        "HTTP_ACCEPT": accept,
        "wsgi.input": io.BytesIO(body or b""),
    }
    if body is not None:
        environ |= {"CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": content_type}
    return environ


def request(
    cache: ResponseCache,
    method: str = "GET",
    accept: str = "text/csv",
    qs: str = "query=ASK%7B%7D",
    body: bytes | None = None,
    content_type: str = "application/sparql-query",
):
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    environ = environ_of(method, accept, qs, body, content_type)
    body = b"".join(cache(environ, start_response))
    return seen["status"], seen["headers"], body


def make(entries: int = 8) -> tuple[FakeEndpoint, ResponseCache]:
    app = FakeEndpoint(entries)
    return app, ResponseCache(app, app.cache, log=None)


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


def test_a_repeated_post_body_is_a_hit_keyed_by_body_content_type_and_accept() -> None:
    app, cache = make()
    first = request(cache, "POST", qs="", body=b"ASK {}")
    second = request(cache, "POST", qs="", body=b"ASK {}")
    assert app.calls == 1 and app.bodies == [b"ASK {}"], "the app still read the whole body"
    assert second[2] == first[2] and second[1]["Exmech-Cache"] == "hit"
    request(cache, "POST", qs="", body=b"ASK { }")
    request(cache, "POST", qs="", body=b"ASK {}", content_type=FORM_TYPE)
    request(cache, "POST", qs="", body=b"ASK {}", accept="application/sparql-results+json")
    request(cache, "POST", qs="format=json", body=b"ASK {}")
    request(cache, "GET", qs="")  # no query: the service description, never kept
    assert app.calls == 6
    assert app.bodies[1:5] == [b"ASK { }", b"ASK {}", b"ASK {}", b"ASK {}"]


FORM_TYPE = "application/x-www-form-urlencoded"


def test_bodies_of_unknown_or_large_length_go_to_the_app_unread() -> None:
    app, cache = make()

    def chunked() -> dict[str, Any]:
        environ = environ_of("POST", qs="", body=b"ASK {}")
        del environ["CONTENT_LENGTH"]
        return environ

    def large() -> dict[str, Any]:
        return environ_of("POST", qs="", body=b"ASK {}" + b" " * cache.max_body)

    for environ in (chunked(), large(), chunked(), large()):
        original = environ["wsgi.input"]
        assert cache.lookup(environ) is None
        assert environ["wsgi.input"] is original and original.tell() == 0
        b"".join(cache(environ, lambda *_: None))
    assert app.calls == 4


def test_lookup_leaves_the_stored_answer_in_the_environ() -> None:
    app, cache = make()
    request(cache, "POST", qs="", body=b"ASK {}")
    environ = environ_of("POST", qs="", body=b"ASK {}")
    found = cache.lookup(environ)
    assert found is not None and environ[REPLAY] is found
    app.generation = "000001-b"  # the app answers what was found when the request was read
    seen: dict[str, Any] = {}
    body = b"".join(cache(environ, lambda status, headers: seen.update(headers=dict(headers))))
    assert body == b"call 1 text/csv" and seen["headers"]["Exmech-Cache"] == "hit"
    assert app.calls == 1
    assert cache.lookup(environ_of("POST", qs="", body=b"ASK {}")) is None


def test_a_replay_points_at_the_answer_entry_so_the_body_is_kept_once() -> None:
    app, cache = make()
    app.padding = b"x" * 100_000
    _, headers, body = request(cache, "POST", qs="", body=b"ASK {}")
    assert headers["Exmech-Cache"] == "miss" and len(app.cache) == 2  # answer and replay
    assert len(body) <= app.cache.weight < len(body) + 1000, "the body is weighed once"
    assert request(cache, "POST", qs="", body=b"ASK {}")[2] == body and app.calls == 1


def test_a_replay_answers_only_while_its_answer_entry_is_kept() -> None:
    app, cache = make(entries=2)
    request(cache)  # the answer entry, then the replay entry pointing at it
    app.cache.query(Query("another question", "SELECT", "text/csv"))  # evicts the answer
    assert len(app.cache) == 2 and cache.lookup(environ_of()) is None
    status, headers, body = request(cache)
    assert app.calls == 2 and headers["Exmech-Cache"] == "miss" and body == b"call 2 text/csv"
    assert request(cache)[1]["Exmech-Cache"] == "hit" and app.calls == 2


def test_a_replay_never_pairs_its_headers_with_an_answer_computed_again() -> None:
    app, cache = make(entries=3)
    request(cache)  # the answer entry, then the replay entry pointing at it
    for n in range(2):
        app.cache.query(Query(f"other {n}", "SELECT", "text/csv"))  # evicts the answer
    assert cache.lookup(environ_of()) is None
    app.padding = b" in another order"  # another spelling reaches the store: other bytes
    app.cache.query(Query("query=ASK%7B%7D ", "SELECT", "text/csv"))
    status, headers, body = request(cache)
    assert app.calls == 2 and body == b"call 1 text/csv in another order"
    assert request(cache)[2] == body and app.calls == 2


def test_replays_and_parsed_answers_share_one_byte_budget() -> None:
    app, cache = make(entries=100)
    app.cache = AnswerCache(app, 100, max_bytes=10_000)  # type: ignore[arg-type]
    cache.cache = app.cache
    request(cache)
    assert request(cache)[1]["Exmech-Cache"] == "hit"

    def parsed(query: Query) -> Results:  # weighs 8 x 500 bytes in the cache
        return Results((), (), False, app.generation, "ASK", boolean=True, size=500)

    app.execute = parsed  # type: ignore[attr-defined]
    for n in range(2):
        app.cache.execute(Query(f"ASK {{ {n} }}", "ASK"))
    assert len(app.cache) == 4, "8,000 bytes of parsed answers and the replay fit"
    app.cache.execute(Query("ASK { 2 }", "ASK"))  # 4,000 more: the oldest entries go
    assert len(app.cache) == 2 and app.cache.weight <= 10_000
    assert request(cache)[1]["Exmech-Cache"] == "miss" and app.calls == 2


# --- a live server: the fast path answers like the app ------------------------------------

ADA_TOKEN, ADA = tokens.new_entry("https://example.org/curator/ada", "Ada Example")
JSON_TYPE = "application/sparql-results+json"
# Headers that differ between two answers of the same bytes.
PER_RESPONSE = {"date", "exmech-cache"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("response-cache")
    shutil.copytree(built_state, base / "state")
    live = start_server(base / "state", base / "server.log", EXMECH_TOKENS=ADA.line())
    yield live
    stop_server(live)


def post(server: LiveServer, query: str, accept: str = JSON_TYPE, **kw: Any) -> httpx.Response:
    response = httpx.post(
        server.sparql,
        content=query.encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": accept},
        **({"timeout": 30} | kw),
    )
    assert response.status_code == 200, response.text
    return response


def fresh(text: str) -> str:
    return f"# {uuid.uuid4()}\n{text}"


def test_a_hit_has_the_misses_bytes_and_every_header_of_the_app(server: LiveServer) -> None:
    query = fresh("SELECT ?s WHERE { ?s a ?type } LIMIT 7")
    miss, hit = post(server, query), post(server, query)
    assert (miss.headers["exmech-cache"], hit.headers["exmech-cache"]) == ("miss", "hit")
    assert hit.content == miss.content
    strip = {k: v for k, v in miss.headers.items() if k not in PER_RESPONSE}
    assert {k: v for k, v in hit.headers.items() if k not in PER_RESPONSE} == strip
    for name, value in EVERY_RESPONSE.items():
        assert hit.headers[name] == value
    assert "Accept" in hit.headers["vary"] and hit.headers["access-control-allow-origin"] == "*"
    form = httpx.post(server.sparql, data={"query": query}, headers={"Accept": JSON_TYPE})
    again = httpx.post(server.sparql, data={"query": query}, headers={"Accept": JSON_TYPE})
    assert again.headers["exmech-cache"] == "hit"  # form (the app's answer cache) as well
    assert again.content == form.content == miss.content


def test_negotiation_is_part_of_the_key(server: LiveServer) -> None:
    query = fresh("SELECT ?s WHERE { ?s a ?type } LIMIT 3")
    as_json = post(server, query)
    as_csv, csv_again = post(server, query, "text/csv"), post(server, query, "text/csv")
    assert as_csv.headers["exmech-cache"] == "miss" and csv_again.headers["exmech-cache"] == "hit"
    assert csv_again.headers["content-type"].startswith("text/csv")
    assert csv_again.content == as_csv.content and csv_again.content.startswith(b"s\r\n")
    by_name = post(server, query, "*/*", params={"format": "tsv"})
    assert by_name.headers["content-type"].startswith("text/tab-separated-values")
    assert post(server, query).content == as_json.content


def propose(server: LiveServer, exercise: str, mechanism: str) -> None:
    """Write one claim through curation (a new generation): ``exercise`` proposes ``mechanism``."""
    accepted = httpx.post(
        f"{server.url}/curation/submissions",
        params={
            "study": "wun-2021",
            "location": "abstract",
            "status": "NotMeasured",
            "wording": "fictional wording",
        },
        content=f"<{exercise}> <{vocab.EXM}proposedMechanism> <{mechanism}> .\n".encode(),
        headers={"Authorization": f"Bearer {ADA_TOKEN}", "Content-Type": "text/turtle"},
        timeout=60,
    )
    assert accepted.status_code == 201, accepted.text


def test_a_curation_write_makes_the_next_answer_a_miss_of_the_new_generation(
    server: LiveServer,
) -> None:
    exercise, mechanism = f"{vocab.ID}exercise/mckenzie", f"{vocab.ID}mechanism/sleep"
    query = fresh(f"SELECT ?m WHERE {{ <{exercise}> <{vocab.EXM}proposedMechanism> ?m }}")
    post(server, query)
    before = post(server, query)
    assert before.headers["exmech-cache"] == "hit" and mechanism not in before.text
    propose(server, exercise, mechanism)
    after = post(server, query)
    assert after.headers["exmech-cache"] == "miss" and mechanism in after.text
    assert after.headers["exmech-generation"] != before.headers["exmech-generation"]
    again = post(server, query)
    assert again.headers["exmech-cache"] == "hit" and again.content == after.content


def raw_post(query: str) -> bytes:
    body = query.encode()
    return (
        "POST /sparql HTTP/1.1\r\nHost: test\r\nContent-Type: application/sparql-query\r\n"
        f"Accept: {JSON_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def read_responses(
    sock: socket.socket, count: int, data: bytes = b"", chunk: int = 65536
) -> list[tuple[str, bytes]]:
    """``count`` responses (their Exmech-Cache and body) read off one connection, ``chunk``
    bytes a read, after ``data`` already read."""
    out: list[tuple[str, bytes]] = []
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            data += sock.recv(chunk) or _closed()
        head, data = data.split(b"\r\n\r\n", 1)
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
        fields = {k.lower(): v for k, v in fields.items()}
        length = int(fields[b"content-length"])
        parts = [data]
        received = len(data)
        while received < length:
            part = sock.recv(chunk) or _closed()
            parts.append(part)
            received += len(part)
        data = b"".join(parts)
        out.append((fields[b"exmech-cache"].decode(), data[:length]))
        data = data[length:]
    return out


def _closed() -> bytes:
    raise AssertionError("the server closed the connection")


def test_pipelined_hits_and_misses_come_back_in_order(server: LiveServer) -> None:
    texts = [fresh(f'SELECT ?n WHERE {{ BIND("{n}" AS ?n) }}') for n in ("one", "two", "three")]
    post(server, texts[0]), post(server, texts[2])  # one and three are hits below, two a miss
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), 30) as sock:
        sock.sendall(b"".join(raw_post(t) for t in [texts[0], texts[1], texts[2], texts[0]]))
        answers = read_responses(sock, 4)
    assert [cache for cache, _ in answers] == ["hit", "miss", "hit", "hit"]
    assert [
        body.count(b'"value":"' + n + b'"')
        for (_, body), n in zip(answers, (b"one", b"two", b"three", b"one"), strict=True)
    ] == [1, 1, 1, 1]


def test_a_client_that_never_reads_its_hits_does_not_stall_the_server(
    server: LiveServer,
) -> None:
    big = fresh("SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 5000")
    size = len(post(server, big).content)
    assert post(server, big).headers["exmech-cache"] == "hit" and size > 500_000
    port = int(server.url.rsplit(":", 1)[1])
    hog = socket.create_connection(("127.0.0.1", port), 30)
    try:
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        request = raw_post(big)
        # Far more than the server may buffer for one connection (16 MB): it must stop taking
        # them on its loop thread, not wait there for this client.
        sender = threading.Thread(
            target=lambda: _send_quietly(hog, request * (40_000_000 // size)), daemon=True
        )
        sender.start()
        sender.join(3)
        for _ in range(3):
            assert post(server, fresh("ASK { ?s ?p ?o }"), timeout=10).status_code == 200
            assert post(server, big, timeout=10).headers["exmech-cache"] == "hit"
    finally:
        hog.close()


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass


# --- the loop thread's direct send: partial sends, slow readers, framing --------------------


def port_of(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def stored(server: LiveServer, text: str) -> bytes:
    """The answer to ``text``, asked until it is a hit."""
    answer = post(server, text).content
    assert post(server, text).headers["exmech-cache"] == "hit"
    return answer


def kernel_buffers() -> int:
    """The most a loopback connection's two socket buffers can hold (send + receive)."""
    wmem = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    rmem = int(Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()[2])
    return wmem + rmem


def slow_reader(server: LiveServer) -> socket.socket:
    """A connection with a tiny receive window (set before connecting)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port_of(server)))
    return sock


@pytest.fixture(scope="module")
def big(server: LiveServer) -> tuple[str, bytes]:
    text = fresh("SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 5000")
    answer = stored(server, text)
    assert len(answer) > 500_000
    return text, answer


def test_pipelined_hits_beyond_the_socket_buffers_reach_a_slow_reader_whole(
    server: LiveServer, big: tuple[str, bytes]
) -> None:
    """More stored bytes than the kernel can hold for one connection, to a client that reads
    nothing at first, then 4 kB at a time: the loop sends what the socket takes, keeps the
    rest, answers others meanwhile, and every byte arrives in order."""
    text, answer = big
    count = kernel_buffers() // len(answer) + 3
    with slow_reader(server) as sock:
        sock.sendall(raw_post(text) * count)
        for _ in range(2):  # the loop is not waiting for that client
            assert post(server, text, timeout=10).content == answer
        answers = read_responses(sock, count, chunk=4096)
    assert answers == [("hit", answer)] * count


def test_a_large_hit_pipelined_with_a_miss_keeps_its_place(
    server: LiveServer, big: tuple[str, bytes]
) -> None:
    text, answer = big
    small = fresh('SELECT ?n WHERE { BIND("small" AS ?n) }')
    small_answer = stored(server, small)
    miss = fresh('SELECT ?n WHERE { BIND("miss" AS ?n) }')
    with slow_reader(server) as sock:
        sock.sendall(raw_post(text) + raw_post(miss) + raw_post(text) + raw_post(small))
        answers = read_responses(sock, 4, chunk=4096)
    assert [cache for cache, _ in answers] == ["hit", "miss", "hit", "hit"]
    assert answers[0][1] == answers[2][1] == answer and answers[3][1] == small_answer
    assert b'"value":"miss"' in answers[1][1]


def test_a_client_that_resets_in_the_middle_of_a_hit_harms_no_one(
    server: LiveServer, big: tuple[str, bytes]
) -> None:
    text, answer = big
    for _ in range(3):
        sock = slow_reader(server)
        sock.sendall(raw_post(text) * 4)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST, with answers half sent
    assert post(server, text, timeout=10).content == answer


def answer_of(sock: socket.socket) -> tuple[bytes, bytes]:
    """The head and body of one answer read off ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or _closed()
    head, body = data.split(b"\r\n\r\n", 1)
    found = re.search(rb"\r\ncontent-length: (\d+)", head, re.IGNORECASE)
    assert found is not None, head
    while len(body) < int(found.group(1)):
        body += sock.recv(65536) or _closed()
    return head, body


@pytest.mark.parametrize(
    ("version", "connection", "closes", "says"),
    [
        ("1.1", "", False, None),
        ("1.1", "close", True, b"close"),
        ("1.0", "", True, b"close"),
        ("1.0", "keep-alive", False, b"Keep-Alive"),
    ],
)
def test_a_hit_keeps_or_closes_the_connection_as_http_says(
    server: LiveServer, version: str, connection: str, closes: bool, says: bytes | None
) -> None:
    text = fresh('SELECT ?n WHERE { BIND("kept" AS ?n) }')
    answer = stored(server, text)
    request = raw_post(text).replace(b"HTTP/1.1", f"HTTP/{version}".encode(), 1)
    if connection:
        request = request.replace(b"\r\n", f"\r\nConnection: {connection}\r\n".encode(), 1)
    for _ in range(2):  # the second one's head is the one kept from the first
        with socket.create_connection(("127.0.0.1", port_of(server)), 30) as sock:
            sock.sendall(request)
            head, body = answer_of(sock)
            assert head.startswith(f"HTTP/{version} 200".encode()), head
            assert b"Exmech-Cache: hit" in head and body == answer
            found = re.search(rb"\r\nConnection: ([^\r]*)", head)
            assert (found.group(1) if found else None) == says
            if closes:
                assert sock.recv(1) == b"", "the server closed the connection after the answer"
            else:
                sock.sendall(request)
                assert answer_of(sock)[1] == answer, "the connection stays open for the next"


def test_head_and_get_of_a_stored_answer_keep_the_framing(server: LiveServer) -> None:
    query = quote(fresh("SELECT ?s WHERE { ?s a ?type } LIMIT 2"))
    target = f"/sparql?query={query}"
    answer = httpx.get(server.url + target, headers={"Accept": JSON_TYPE}).content
    get = f"GET {target} HTTP/1.1\r\nHost: test\r\nAccept: {JSON_TYPE}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port_of(server)), 30) as sock:
        sock.sendall(get.replace(b"GET", b"HEAD", 1) + get)
        data = b""
        while data.count(b"\r\n\r\n") < 2:
            data += sock.recv(65536) or _closed()
        head, rest = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200") and rest.startswith(b"HTTP/1.1 200")
        assert read_responses(sock, 1, rest) == [("hit", answer)]


def test_a_hits_date_is_the_time_it_was_sent(server: LiveServer) -> None:
    text = fresh('SELECT ?n WHERE { BIND("dated" AS ?n) }')
    stored(server, text)
    second = int(time.time())
    while int(time.time()) == second:  # the head built for that second is not reused after it
        time.sleep(0.05)
    hit = post(server, text)
    assert hit.headers["exmech-cache"] == "hit"
    assert parsedate_to_datetime(hit.headers["date"]).timestamp() > second


LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} exmech\.requests POST /sparql 200 \d+\.\dms$",
    re.MULTILINE,
)


def test_a_hit_and_a_miss_log_one_line_each_in_the_same_form(server: LiveServer) -> None:
    """One line per request, written as logging's own Formatter would write it (date and
    time with milliseconds, logger, method, path without the query, status, time)."""
    text = fresh('SELECT ?n WHERE { BIND("logged" AS ?n) }')
    before = len(LOG_LINE.findall(server.output()))
    assert post(server, text).headers["exmech-cache"] == "miss"
    assert post(server, text).headers["exmech-cache"] == "hit"
    assert post(server, text).headers["exmech-cache"] == "hit"
    deadline = time.monotonic() + 10
    while len(LOG_LINE.findall(server.output())) < before + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(LOG_LINE.findall(server.output())) == before + 3
    assert "logged" not in server.output()


# --- the same server in this process, its sockets' send buffers small ----------------------
# On loopback the kernel takes a whole stored answer at once (socket buffers of megabytes);
# over a network it often does not. Here the server's accepted sockets get a 4 kB send
# buffer, so a large hit is partly sent by the loop and the rest kept for it.


class BigEndpoint:
    """A WSGI app answering like /sparql (through the app's answer cache, of which it is the
    fake store) with a large body that names the query string (a lost, doubled or misplaced
    byte shows)."""

    def __init__(self) -> None:
        self.calls = 0
        self.generation = "g"
        self.cache = AnswerCache(self, 8)  # type: ignore[arg-type]

    def query(self, query: Query) -> Answer:
        return Answer(large(query.text), query.media_type, 1, False, self.generation)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.calls += 1
        answer = self.cache.query(Query(environ["QUERY_STRING"], "SELECT", "application/x"))
        environ[ANSWER] = answer
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/octet-stream"),
                ("Content-Length", str(len(answer.body))),
                ("Exmech-Cache", "hit" if answer.cached else "miss"),
                ("Exmech-Generation", answer.generation),
            ],
        )
        return [answer.body]


def large(name: str) -> bytes:
    return name.encode() + b":" + bytes(range(256)) * 4096  # 1 MB


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[tuple[Any, BigEndpoint]]:
    """exmech's waitress server on its own loop thread over ``BigEndpoint``."""
    from exmech.server import create_server, listen
    from exmech.settings import Settings
    from waitress import wasyncore

    endpoint = BigEndpoint()
    cache = ResponseCache(endpoint, endpoint.cache, log=None)
    server = create_server(
        cache, Settings(state_dir=tmp_path), listen("127.0.0.1", 0), cache.lookup
    )

    def small_send_buffer(conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

    server.set_socket_options = small_send_buffer
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server, endpoint
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(10)
    server.task_dispatcher.shutdown()


def get(server: Any, *names: str, rcvbuf: int = 0) -> socket.socket:
    """A connection that has sent ``GET /sparql?<name>`` for each name at once (receive
    buffer ``rcvbuf`` if set)."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", int(server.effective_port)))
    sock.sendall(b"".join(get_request(name) for name in names))
    return sock


def get_request(name: str) -> bytes:
    return f"GET /sparql?{name} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def kept_output(server: Any) -> int:
    """The bytes the loop keeps to send on any connection, once it keeps some (else 0)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kept = sum(c.total_outbufs_len for c in list(server.active_channels.values()))
        if kept:
            return kept
        time.sleep(0.01)
    return 0


def test_a_hit_the_socket_cannot_take_at_once_reaches_a_slow_reader_whole(
    loop: tuple[Any, BigEndpoint],
) -> None:
    server, endpoint = loop
    with get(server, "q=one") as first:
        assert read_responses(first, 1) == [("miss", large("q=one"))]
    with get(server, "q=one", rcvbuf=4096) as slow:
        assert 0 < kept_output(server) < len(large("q=one")), "the loop kept the rest"
        with get(server, "q=one") as other:  # answered while the slow client reads nothing
            assert read_responses(other, 1) == [("hit", large("q=one"))]
        assert read_responses(slow, 1, chunk=4096) == [("hit", large("q=one"))]
        slow.sendall(get_request("q=one"))  # the connection goes on
        assert read_responses(slow, 1, chunk=4096) == [("hit", large("q=one"))]
    assert endpoint.calls == 1


def test_a_kept_hit_then_a_miss_and_hits_pipelined_come_back_in_order(
    loop: tuple[Any, BigEndpoint],
) -> None:
    server, endpoint = loop
    with get(server, "q=one") as first:
        read_responses(first, 1)
    names = ["q=one", "q=two", "q=one", "q=two"]
    with get(server, "q=one", rcvbuf=4096) as slow:
        slow.sendall(b"".join(get_request(name) for name in names[1:]))
        answers = read_responses(slow, 4, chunk=4096)
    assert answers == [
        ("hit", large("q=one")),
        ("miss", large("q=two")),
        ("hit", large("q=one")),
        ("hit", large("q=two")),
    ]
    assert endpoint.calls == 2


def test_a_pipelined_hit_queues_behind_the_rest_of_the_one_before(
    loop: tuple[Any, BigEndpoint],
) -> None:
    """The second of two pipelined hits goes to a request thread (waitress's write), whose
    output queues behind what the socket did not take of the first."""
    server, endpoint = loop
    for name in ("q=one", "q=two"):
        with get(server, name) as first:
            read_responses(first, 1)
    with get(server, "q=one", "q=two", rcvbuf=4096) as slow:
        answers = read_responses(slow, 2, chunk=4096)
    assert answers == [("hit", large("q=one")), ("hit", large("q=two"))]
    assert endpoint.calls == 2


def test_a_client_that_resets_with_a_hit_kept_is_closed_and_others_served(
    loop: tuple[Any, BigEndpoint],
) -> None:
    server, _ = loop
    with get(server, "q=one") as first:
        read_responses(first, 1)
    slow = get(server, "q=one", rcvbuf=4096)
    assert kept_output(server)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    slow.close()  # RST with the answer half sent
    with get(server, "q=one") as other:
        assert read_responses(other, 1) == [("hit", large("q=one"))]
    deadline = time.monotonic() + 10
    while len(server.active_channels) > 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not server.active_channels, "the reset connection was closed"


# --- one cache on a live server: /api, pages and /sparql share its budget and generation ---


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[LiveServer]:
    """A server whose one answer cache holds 1 MiB (EXMECH_CACHE_MB)."""
    base = tmp_path_factory.mktemp("one-cache")
    shutil.copytree(built_state, base / "state")
    live = start_server(
        base / "state", base / "server.log", EXMECH_TOKENS=ADA.line(), EXMECH_CACHE_MB="1"
    )
    yield live
    stop_server(live)


# /api answers that weigh, as parsed answers, over 1 MiB together (about 1.8 MiB on the
# shipped data: 8 times the 40 to 55 kB each was read from).
HEAVY_API = (
    "/api/evidence-map",
    "/api/claims/by-evidence",
    "/api/verdicts/exercise-mechanisms",
    "/api/verdicts/mechanisms",
    "/api/questions/null-findings",
)


def api(server: LiveServer, path: str) -> str:
    response = httpx.get(server.url + path, timeout=30)
    assert response.status_code == 200, response.text
    return response.headers["exmech-cache"]


def test_api_answers_evict_a_sparql_replay_from_the_one_byte_budget(small: LiveServer) -> None:
    query = fresh("SELECT ?s WHERE { ?s a ?type } LIMIT 5")
    assert [post(small, query).headers["exmech-cache"] for _ in range(2)] == ["miss", "hit"]
    assert [api(small, path) for path in HEAVY_API] == ["miss"] * len(HEAVY_API)
    assert post(small, query).headers["exmech-cache"] == "miss"


def test_sparql_answers_evict_an_api_answer_from_the_one_byte_budget(small: LiveServer) -> None:
    path = "/api/questions/mediation-explains"
    assert [api(small, path) for _ in range(2)] == ["miss", "hit"]
    big = [fresh("SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 3000") for _ in range(2)]
    assert sum(len(post(small, query).content) for query in big) > 1024 * 1024
    assert api(small, path) == "miss"


def test_a_write_makes_every_kind_of_entry_unreachable(small: LiveServer) -> None:
    query, path = fresh("ASK { ?s ?p ?o }"), "/api/questions/proposals-outnumber-tests"
    page = "/id/mechanism/sleep"
    for _ in range(2):
        replayed, asked = post(small, query), api(small, path)
        httpx.get(small.url + page, timeout=30).raise_for_status()
    assert (replayed.headers["exmech-cache"], asked) == ("hit", "hit")
    before = httpx.get(small.url + page, timeout=30).text
    propose(small, f"{vocab.ID}exercise/mckenzie", f"{vocab.ID}mechanism/sleep")
    after = post(small, query)
    assert after.headers["exmech-cache"] == "miss"
    assert after.headers["exmech-generation"] != replayed.headers["exmech-generation"]
    assert api(small, path) == "miss"
    assert "McKenzie" not in before and "McKenzie" in httpx.get(small.url + page).text
