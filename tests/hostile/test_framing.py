"""Broken HTTP framing gets a 4xx from the server, never a 500, and harms no one (issue 12.8).

Raw bytes on a socket, because HTTP clients will not send these: a chunk size that is not
hexadecimal, a chunk size beyond any body limit (413 at once, not after waiting for it), a
chunk without its CRLF, a Content-Length that is not a number or negative, and both
Content-Length and Transfer-Encoding (refused: the ambiguity request smuggling needs).
"""

from __future__ import annotations

import socket

import httpx
import pytest
from conftest import LiveServer

pytestmark = pytest.mark.live
HEAD = (
    "POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/sparql-query\r\n{framing}\r\n"
)
CHUNKED = "Transfer-Encoding: chunked\r\n"
CASES = {  # name: (framing headers, body, status)
    "chunk size not hexadecimal": (CHUNKED, b"ZZ\r\nASK{}\r\n0\r\n\r\n", 400),
    "chunk size beyond any limit": (CHUNKED, b"f" * 40 + b"\r\nASK{}", 413),
    "chunk without its CRLF": (CHUNKED, b"5\r\nASK{}XX0\r\n\r\n", 400),
    "Content-Length not a number": ("Content-Length: five\r\n", b"ASK{}", 400),
    "negative Content-Length": ("Content-Length: -5\r\n", b"ASK{}", 400),
    "Content-Length and chunked": (
        "Content-Length: 5\r\n" + CHUNKED,
        b"5\r\nASK{}\r\n0\r\n\r\n",
        400,
    ),
}


def raw(server: LiveServer, data: bytes) -> bytes:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    return answer


@pytest.mark.parametrize("name", CASES)
def test_broken_framing_is_a_4xx(live_server: LiveServer, name: str) -> None:
    framing, body, status = CASES[name]
    answer = raw(live_server, HEAD.format(framing=framing).encode() + body)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), (name, answer[:300])
    assert live_server.process.poll() is None
    ask = httpx.get(live_server.sparql, params={"query": "ASK {}"}, timeout=10)
    assert ask.status_code == 200
