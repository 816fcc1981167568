"""Slow and idle clients cannot take the server down (issue 12, point 3).

A real `exmech serve` with 8 request threads is held by 4 x threads connections of each
kind at once: slow headers (one header line a second), slow bodies (one byte every half
second) and idle sockets (nothing sent). A normal client must still be answered, each
request within a second (a bound on the test, not a timing claim). The slow kinds then meet
their deadlines (408, closed) and idle sockets are closed; an address over its connection
cap gets 503 while others are served.

Loopback is all of 127.0.0.0/8, so each kind of attacker connects from its own source
address (127.0.0.2, .3, .4) and the normal client from 127.0.0.1: the per-address cap
applies to each, as it would to separate hosts.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import LiveServer, start_server, stop_server

pytestmark = pytest.mark.live

THREADS = 8
EACH = 4 * THREADS
PER_CLIENT = EACH + 4
TIMEOUTS = {"EXMECH_HEADER_TIMEOUT": "3", "EXMECH_BODY_TIMEOUT": "3", "EXMECH_IDLE_TIMEOUT": "3"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("slow")
    shutil.copytree(built_state, base / "state")
    live = start_server(
        base / "state",
        base / "server.log",
        EXMECH_THREADS=str(THREADS),
        EXMECH_MAX_CONNECTIONS_PER_CLIENT=str(PER_CLIENT),
        **TIMEOUTS,
    )
    try:
        yield live
    finally:
        stop_server(live)


def _address(server: LiveServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def connect(server: LiveServer, source: str) -> socket.socket:
    sock = socket.create_connection(_address(server), timeout=10, source_address=(source, 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Crowd:
    """Connections of one kind, fed by a thread until they are closed or told to stop."""

    def __init__(self, server: LiveServer, source: str, opening: bytes, drip: bytes, every: float):
        self.socks = [connect(server, source) for _ in range(EACH)]
        self.stop = threading.Event()
        for sock in self.socks:
            if opening:
                sock.sendall(opening)
        self.thread = threading.Thread(target=self._feed, args=(drip, every), daemon=True)
        self.thread.start()

    def _feed(self, drip: bytes, every: float) -> None:
        live = list(self.socks)
        while live and drip and not self.stop.wait(every):
            for sock in list(live):
                try:
                    sock.sendall(drip)
                except OSError:
                    live.remove(sock)

    def answers(self, bound: float) -> list[bytes]:
        """What each connection received before the server closed it (b"" if never closed
        within ``bound`` seconds, which fails the caller's check)."""
        deadline = time.monotonic() + bound
        out = []
        for sock in self.socks:
            data = b""
            while True:
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    data = b"<still open>" + data
                    break
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            out.append(data)
        return out

    def close(self) -> None:
        self.stop.set()
        for sock in self.socks:
            sock.close()


def test_slow_and_idle_clients_do_not_stop_a_normal_client(server: LiveServer) -> None:
    port = _address(server)[1]
    for path in ("/id/mechanism/motor-control", "/sparql?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D"):
        assert httpx.get(server.url + path, timeout=30).status_code == 200  # warm the workers
    crowds = [
        Crowd(
            server,
            "127.0.0.2",
            f"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode(),
            b"X-Slow: 1\r\n",
            1.0,
        ),
        Crowd(
            server,
            "127.0.0.3",
            f"POST /sparql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/sparql-query\r\nContent-Length: 1000\r\n\r\n".encode(),
            b" ",
            0.5,
        ),
        Crowd(server, "127.0.0.4", b"", b"", 1.0),
    ]
    try:
        time.sleep(1.0)  # every slow connection has started its request
        with httpx.Client(timeout=1.0) as client:
            for _ in range(10):
                response = client.get(server.sparql, params={"query": "ASK { ?s ?p ?o }"})
                assert response.status_code == 200 and response.json()["boolean"] is True
                page = client.get(server.url + "/id/mechanism/motor-control")
                assert page.status_code == 200
        headers, bodies, idle = (crowd.answers(bound=20) for crowd in crowds)
    finally:
        for crowd in crowds:
            crowd.close()
    assert all(a.startswith(b"HTTP/1.1 408") and b"EXMECH_HEADER_TIMEOUT" in a for a in headers)
    assert all(a.startswith(b"HTTP/1.1 408") and b"EXMECH_BODY_TIMEOUT" in a for a in bodies)
    assert all(a == b"" for a in idle), idle[:3]  # closed without a word, never left open
    assert server.process.poll() is None


def test_an_address_over_its_connection_cap_gets_503_and_others_are_served(
    server: LiveServer,
) -> None:
    held = [connect(server, "127.0.0.5") for _ in range(PER_CLIENT)]
    try:
        time.sleep(0.5)
        extra = connect(server, "127.0.0.5")
        extra.settimeout(10)
        refused = b""
        while chunk := extra.recv(65536):
            refused += chunk
        extra.close()
        assert refused.startswith(b"HTTP/1.1 503"), refused[:200]
        assert b"EXMECH_MAX_CONNECTIONS_PER_CLIENT" in refused and b"Retry-After" in refused
        response = httpx.get(server.sparql, params={"query": "ASK {}"}, timeout=1.0)
        assert response.status_code == 200
    finally:
        for sock in held:
            sock.close()
    # Once closed, the address may connect again.
    deadline = time.monotonic() + 10
    while True:
        try:
            with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.5")) as c:
                again = c.get(server.sparql, params={"query": "ASK {}"}, timeout=2.0)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert again.status_code == 200


def test_clients_that_stop_reading_hold_no_thread(server: LiveServer) -> None:
    """4 x threads clients ask for the biggest dump and never read; others are answered."""
    dump = httpx.get(server.url + "/download/exmech.jsonld", timeout=120)  # written once, first
    assert dump.status_code == 200 and len(dump.content) > 100_000
    readers = []
    try:
        for _ in range(EACH):
            reader = socket.socket()
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny window
            reader.bind(("127.0.0.6", 0))
            reader.connect(_address(server))
            reader.sendall(b"GET /download/exmech.jsonld HTTP/1.1\r\nHost: x\r\n\r\n")
            readers.append(reader)
        time.sleep(2.0)  # every stalled request has been served into its buffers
        with httpx.Client(timeout=1.0) as client:  # a bound on the test, not a timing claim
            for _ in range(10):
                assert client.get(server.sparql, params={"query": "ASK {}"}).status_code == 200
                assert client.get(server.url + "/id/mechanism/motor-control").status_code == 200
    finally:
        for reader in readers:
            reader.close()
    assert server.process.poll() is None
