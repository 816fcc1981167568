"""Serve the app with waitress: one process, request threads, nothing forked.

Why waitress: its event loop reads every request in full (headers and body) before a
request thread sees it, so a slow or idle client holds a socket, never a thread. On top of
waitress this module adds what it lacks (``Gate``):

- deadlines: the request line and headers must arrive within ``EXMECH_HEADER_TIMEOUT``
  seconds of the request's first byte, the body within ``EXMECH_BODY_TIMEOUT`` of the end of
  the headers (else 408 and the connection is closed); a connection idle between requests is
  closed after ``EXMECH_IDLE_TIMEOUT``; a response the client stops reading for
  ``EXMECH_BODY_TIMEOUT`` while its thread waits is cut off;
- at most ``EXMECH_MAX_CONNECTIONS_PER_CLIENT`` open connections per client address (more
  get 503 and are closed) and ``EXMECH_MAX_CONNECTIONS`` in all (more wait in the backlog);
- gunicorn's request-size limits, which clients of exmech already know: request line over
  8190 bytes 414, a header field over 8190 bytes or more than 100 fields 431.

A request the app can answer from stored bytes (``Replayer``, the /sparql response cache) is
answered on the event-loop thread as soon as it is read, without the hand-off to a request
thread; every other request goes to the threads as before. The stored answer is found
once, when the request is read, so the loop thread never runs a query. Its head and bytes go
straight to the socket in one non-blocking ``sendmsg`` (no copy into waitress's output
buffer); what the socket does not take at once is left, still uncopied, to waitress's
output buffers, which the loop sends as the client reads (``_Channel.send_now``).

Nothing here forks: the embedded store's primary (RocksDB) is opened in this process, and
query workers are started with ``spawn`` (a fresh interpreter), so no process ever inherits
an open store (a RocksDB opened before a fork hangs its first write in the child).
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from waitress.adjustments import Adjustments
from waitress.buffers import OverflowableBuffer
from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask
from waitress.utilities import (
    BadRequest,
    Error,
    RequestEntityTooLarge,
    RequestHeaderFieldsTooLarge,
)

from exmech.settings import Settings
from exmech.store.cache import LRU

log = logging.getLogger("exmech.server")

MAX_REQUEST_LINE = 8190  # bytes; longer GET queries are sent with POST
MAX_HEADER_FIELD = 8190  # bytes of one "Name: value" line
MAX_HEADER_FIELDS = 100
MAX_HEADER_BYTES = 64 * 1024  # request line and all headers together
HEADS = 256  # response heads of stored answers kept built (_Task.head), about 1 kB each
CANNOT_LISTEN_EXIT = 3  # `exmech serve` exits with this when it cannot bind its address
# environ -> the stored answer (status, headers, body) for this request, or None; it also
# leaves the answer in the environ, so that the app sends that answer whichever thread runs it.
Replayer = Callable[[dict[str, Any]], tuple[str, list[tuple[str, str]], bytes] | None]


LOG_FORMAT = "%(asctime)s %(name)s %(message)s"


class LogFormatter(logging.Formatter):
    """logging's Formatter, its default time format written out once a second rather
    than for every line (one line per request: ``EXMECH_LOG_REQUESTS``); the same text.

    >>> record = logging.makeLogRecord({"name": "exmech", "msg": "hi", "created": 0.25})
    >>> record.msecs = 250.0
    >>> LogFormatter(LOG_FORMAT).format(record) == logging.Formatter(LOG_FORMAT).format(record)
    True
    """

    _stamp: tuple[int, str] = (-1, "")  # (second, its date and time)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:
            return super().formatTime(record, datefmt)
        second, stamp = self._stamp
        if second != int(record.created):
            second = int(record.created)
            stamp = time.strftime(self.default_time_format, self.converter(record.created))
            self._stamp = second, stamp
        if self.default_msec_format:
            return self.default_msec_format % (stamp, record.msecs)
        return stamp


def log_to_stderr() -> None:
    """Log INFO and above to stderr as ``exmech serve`` does, unless logging is set up."""
    handler = logging.StreamHandler()
    handler.setFormatter(LogFormatter(LOG_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


class CannotListen(Exception):
    """The server's address cannot be bound (port in use, no permission...)."""


class URITooLong(BadRequest):
    code = 414
    reason = "URI Too Long"


class RequestTimeout(BadRequest):
    code = 408
    reason = "Request Timeout"


@dataclass(frozen=True)
class Gate:
    """The limits a connection meets before its request reaches the app."""

    header_timeout: float
    body_timeout: float
    per_client: int  # 0: no cap

    @classmethod
    def of(cls, settings: Settings) -> Gate:
        return cls(
            settings.header_timeout, settings.body_timeout, settings.max_connections_per_client
        )


class _Parser(HTTPRequestParser):
    """waitress's parser plus gunicorn's line and field limits (414, 431), a refusal of
    ambiguous framing (both Content-Length and Transfer-Encoding: 400, as request smuggling
    needs), and an immediate 413 for a chunk larger than the body limit."""

    error: Error | None  # waitress's own attributes, typed here (waitress has no types)
    completed: bool

    def parse_header(self, header_plus: bytes) -> None:
        first, _, rest = header_plus.partition(b"\r\n")
        lines = rest.split(b"\r\n") if rest else []
        names = {line.split(b":", 1)[0].strip().lower() for line in lines}
        self._refusal: Error | None = None
        if len(first) > MAX_REQUEST_LINE:
            self._refusal = URITooLong(
                f"the request line is over {MAX_REQUEST_LINE} bytes; send long queries with POST"
            )
        elif len(lines) > MAX_HEADER_FIELDS:
            self._refusal = RequestHeaderFieldsTooLarge(
                f"more than {MAX_HEADER_FIELDS} header fields"
            )
        elif any(len(line) > MAX_HEADER_FIELD for line in lines):
            self._refusal = RequestHeaderFieldsTooLarge(
                f"a header field is over {MAX_HEADER_FIELD} bytes"
            )
        elif {b"content-length", b"transfer-encoding"} <= names:
            self._refusal = BadRequest("send either Content-Length or Transfer-Encoding, not both")
        super().parse_header(header_plus)

    def received(self, data: bytes) -> int:
        consumed: int = super().received(data)
        refusal = getattr(self, "_refusal", None)
        if refusal is None and self.chunked and self.body_rcv is not None and not self.error:
            limit = self.adj.max_request_body_size
            if self.body_bytes_received + self.body_rcv.chunk_remainder >= limit:
                refusal = RequestEntityTooLarge(f"a chunk goes over the body limit of {limit}")
        if refusal is not None and self.error is None:
            self.error, self.completed = refusal, True
        return consumed


class _Task(WSGITask):
    """A WSGI task that reuses the environ built when its request was read, and sends a
    stored answer (run on the loop thread) straight to the socket."""

    environ: dict[str, Any] | None  # waitress's own attributes, typed here
    channel: _Channel
    content_length: int | None
    wrote_header: bool
    has_body: bool
    close_on_finish: bool
    start_time: float

    def get_environment(self) -> dict[str, Any]:
        built = getattr(self.request, "exmech_environ", None)
        if built is not None and self.environ is None:
            self.environ = built
        environ: dict[str, Any] = super().get_environment()
        return environ

    def write(self, data: bytes) -> None:
        """waitress's write, except for a stored answer written whole in one piece on the
        loop thread (``_Server._replayable`` marked its request): its head, built by
        waitress as for any answer, and its bytes go to ``send_now`` together."""
        if (
            getattr(self.request, "exmech_replay", False)
            and not self.wrote_header
            and self.has_body
            and self.content_length == len(data)
        ):
            self.channel.send_now(self.head(), data)
            self.wrote_header = True
            self.content_bytes_written = len(data)
            return
        super().write(data)

    def head(self) -> bytes:
        """waitress's status line and headers for this answer, built once a second for the
        same status, app headers, HTTP version and Connection header (what they depend
        on, with the Date), and kept in the server's ``heads``."""
        connection = self.request.headers.get("CONNECTION", "")
        key = (self.status, tuple(self.response_headers), self.version, connection)
        heads: LRU[_Head] = self.channel.server.heads
        second = int(self.start_time)
        kept = heads.get(key)
        if kept is None or kept.second != second:
            kept = _Head(second, self.build_response_header(), self.close_on_finish)
            heads.put(key, kept)
        self.close_on_finish = kept.close
        return kept.head


@dataclass(frozen=True)
class _Head:
    """A response head as waitress built it, the second of its Date, and whether waitress
    closes the connection after it (HTTP/1.0 without keep-alive, Connection: close)."""

    second: int
    head: bytes
    close: bool


class _View:
    """Bytes in memory as one of waitress's output buffers (the interface its channel's
    ``_flush_some`` uses: ``__len__``, ``get``, ``skip``, ``close``), sent without a copy:
    the part of a stored answer the socket did not take at once."""

    def __init__(self, data: memoryview) -> None:
        self.view = data

    def __len__(self) -> int:
        return len(self.view)

    def get(self, numbytes: int = -1, skip: bool = False) -> memoryview:
        chunk = self.view if numbytes < 0 else self.view[:numbytes]
        if skip:
            self.view = self.view[len(chunk) :]
        return chunk

    def skip(self, numbytes: int, allow_prune: bool = False) -> None:
        self.view = self.view[numbytes:]

    def close(self) -> None:
        self.view = memoryview(b"")


class _Channel(HTTPChannel):
    """A connection that remembers when its pending request began and its headers ended,
    and answers a stored answer's request on the loop thread (``_Server.add_task``)."""

    parser_class = _Parser
    task_class = _Task
    request: _Parser | None  # waitress's own attributes, typed here (waitress has no types)
    outbufs: list[Any]
    outbuf_lock: threading.Condition
    total_outbufs_len: int
    current_outbuf_count: int
    last_activity: float
    will_close: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.pending: object | None = None  # the parser of the request being read
        self.begun = 0.0
        self.headers_at: float | None = None
        # The thread in received() (the loop's): add_task may leave a stored answer to it.
        self.reader: int | None = None
        self.replay_due = False  # requests[0] has a stored answer to send on this thread
        super().__init__(*args, **kwargs)

    def received(self, data: bytes) -> bool:
        self.reader = threading.get_ident()
        try:
            result: bool = super().received(data)
        finally:
            self.reader = None
        while self.replay_due:  # outside requests_lock, which service() takes
            self.replay_due = False
            self.service()  # the next request, if any, goes to the threads
        request, now = self.request, time.monotonic()
        if request is None:
            self.pending = None
        elif request is not self.pending:
            self.pending, self.begun, self.headers_at = request, now, None
        if request is not None and request.headers_finished and self.headers_at is None:
            self.headers_at = now
        return result

    def send_now(self, head: bytes, body: bytes) -> None:
        """Send a stored answer from the loop thread: with nothing queued before it, head
        and body in one non-blocking ``sendmsg`` (nothing copied); the rest, or all of it
        behind queued output, appended to the output buffers as views of the same bytes.
        Never waits: the loop sends the rest when the client reads (``handle_write``)."""
        if not self.connected:
            raise ClientDisconnected
        with self.outbuf_lock:
            sent = 0
            if not self.total_outbufs_len:
                try:
                    sent = self.socket.sendmsg([head, body])
                except BlockingIOError:
                    pass
                except OSError as exc:  # reset, broken pipe: waitress closes the channel
                    self.will_close = True
                    raise ClientDisconnected from exc
                if sent:
                    self.last_activity = time.time()
            rest = [memoryview(head)[sent:], memoryview(body)[max(0, sent - len(head)) :]]
            unsent = [_View(part) for part in rest if len(part)]
            if unsent:
                # outbufs[-1] stays a writable buffer of waitress's own (its invariant)
                self.outbufs.extend([*unsent, OverflowableBuffer(self.adj.outbuf_overflow)])
                self.total_outbufs_len += sum(len(part) for part in unsent)
                self.current_outbuf_count = 0

    def overdue(self, gate: Gate, now: float) -> str | None:
        """Why the request being read is late, or None."""
        request = self.request
        if request is None or self.requests or request is not self.pending:
            return None
        if self.headers_at is None:
            if now - self.begun > gate.header_timeout:
                return (
                    f"the request headers did not arrive within {gate.header_timeout:g} s "
                    "(EXMECH_HEADER_TIMEOUT)"
                )
        elif now - self.headers_at > gate.body_timeout:
            return (
                f"the request body did not arrive within {gate.body_timeout:g} s "
                "(EXMECH_BODY_TIMEOUT)"
            )
        return None

    def refuse_late(self, reason: str) -> None:
        """Answer the late request with 408 (through waitress's error task) and close."""
        with self.requests_lock:
            request = self.request
            if request is None:  # answered meanwhile: nothing is late any more
                return
            if not request.headers_finished:
                request.parse_header(b"GET / HTTP/1.1\r\n")
            request.error, request.completed = RequestTimeout(reason), True
            self.request = self.pending = None
            self.requests.append(request)
            self.server.add_task(self)


class _Server(TcpWSGIServer):
    """waitress's TCP server with deadlines and a per-address connection cap."""

    channel_class = _Channel

    def __init__(
        self, *args: Any, gate: Gate, replayer: Replayer | None = None, **kwargs: Any
    ) -> None:
        self.gate = gate
        self.replayer = replayer
        self.loop: int | None = None  # the thread running the event loop, once run() runs
        self.heads = LRU[_Head](HEADS, HEADS * 4096, lambda kept: len(kept.head))
        super().__init__(*args, **kwargs)

    def run(self) -> None:
        self.loop = threading.get_ident()
        super().run()

    def pull_trigger(self) -> None:
        """Wake the loop from another thread; the loop itself needs no waking (it polls
        again, with the channels' current wishes, when its handler returns)."""
        if threading.get_ident() != self.loop:
            super().pull_trigger()

    def add_task(self, channel: _Channel) -> None:
        """Hand the channel's request to a thread, unless it has a stored answer: then
        mark it for the loop thread (``_Channel.received``), which sends it at once.
        Only the loop thread, reading this channel, may take that way: a request thread
        that finished the previous request hands the next one on to a thread."""
        if (
            self.replayer is not None
            and channel.reader == threading.get_ident()
            and self._replayable(channel)
        ):
            channel.replay_due = True
            return
        super().add_task(channel)

    def _replayable(self, channel: _Channel) -> bool:
        """Whether the channel's one request has a stored answer the outbuf can take
        without waiting: a loop thread must never block on its own client. waitress reads a
        connection only when its output buffer is empty and no request is pending
        (``HTTPChannel.readable``), and a stored answer is at most 4 MB, so this holds by
        construction; the room check keeps it so if those limits ever change."""
        if self.replayer is None or len(channel.requests) != 1 or not channel.connected:
            return False
        request = channel.requests[0]
        if request.error:
            return False
        environ = WSGITask(channel, request).get_environment()
        request.exmech_environ = environ  # reused by the task, whichever thread runs it
        found = self.replayer(environ)
        room = self.adj.outbuf_high_watermark // 2 - channel.total_outbufs_len
        request.exmech_replay = found is not None and len(found[2]) + 65536 <= room
        return bool(request.exmech_replay)

    def handle_accept(self) -> None:
        if not self.gate.per_client:
            super().handle_accept()
            return
        try:
            accepted = self.accept()
        except OSError:
            return
        if accepted is None:
            return
        conn, addr = accepted
        open_here = Counter(c.addr[0] for c in self.active_channels.values())[addr[0]]
        if open_here >= self.gate.per_client:
            _refuse(conn, addr[0], self.gate.per_client)
            return
        try:
            self.set_socket_options(conn)
        except OSError:
            conn.close()
            return
        self.channel_class(self, conn, addr, self.adj, map=self._map)

    def maintenance(self, now: float) -> None:
        """Close idle connections (waitress), answer late requests, cut stalled readers."""
        super().maintenance(now)
        clock = time.monotonic()
        for channel in list(self.active_channels.values()):
            reason = channel.overdue(self.gate, clock)
            if reason is not None:
                log.info("408 for %s: %s", channel.addr[0], reason)
                channel.refuse_late(reason)
            elif (
                channel.requests
                and channel.total_outbufs_len > self.adj.outbuf_high_watermark
                and now - channel.last_activity > self.gate.body_timeout
            ):
                log.info("closing %s: it stopped reading its response", channel.addr[0])
                channel.handle_close()


def _refuse(conn: socket.socket, address: str, cap: int) -> None:
    """503 to a connection over its address's cap, without reading its request."""
    body = (
        f"too many open connections from {address}: at most {cap} "
        "(EXMECH_MAX_CONNECTIONS_PER_CLIENT); close some and retry\n"
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 5\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        conn.setblocking(False)
        conn.send(head + body)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        conn.close()


def listen(host: str, port: int) -> socket.socket:
    """A bound socket for host:port; raises CannotListen with a one-line reason."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise CannotListen(f"exmech serve: cannot listen on {host}:{port}: {exc}") from exc
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CannotListen(
                f"exmech serve: port {port} on {host} is already in use; choose another "
                f"with --port (or EXMECH_PORT)"
            ) from exc
        raise CannotListen(
            f"exmech serve: cannot listen on {host}:{port}: {exc.strerror}; choose another "
            "address with --host/--port"
        ) from exc
    return sock


def create_server(
    app: Callable[..., Any],
    settings: Settings,
    sock: socket.socket,
    replayer: Replayer | None = None,
) -> _Server:
    """The waitress server for ``app`` on the bound ``sock``, with exmech's limits;
    ``replayer`` finds the requests ``app`` answers from stored bytes."""
    adj = Adjustments(
        threads=settings.threads,
        connection_limit=settings.max_connections,
        channel_timeout=max(1, round(settings.idle_timeout)),
        cleanup_interval=1,
        asyncore_use_poll=True,  # select() cannot watch more than 1024 sockets
        max_request_header_size=MAX_HEADER_BYTES,
        # Over the app's own limit, so that the app answers 413 with its message; bodies
        # larger still are refused by waitress before they are buffered.
        max_request_body_size=max(settings.max_upload_bytes, 3 * settings.max_query_bytes) + 65536,
        # Like gunicorn's forwarded_allow_ips default: a proxy on loopback says the scheme
        # and the client's address (the rate limit's key).
        trusted_proxy="127.0.0.1",
        trusted_proxy_headers={"x-forwarded-proto", "x-forwarded-for"},
        ident="exmech",
        expose_tracebacks=False,
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(settings.threads)
    return _Server(
        app,
        map={},
        _sock=sock,
        dispatcher=dispatcher,
        adj=adj,
        sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()),
        bind_socket=False,
        gate=Gate.of(settings),
        replayer=replayer,
    )


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def run(settings: Settings, bound: Callable[[], None] = lambda: None) -> None:
    """Bind, call ``bound`` (the CLI's state lock), open (building on first use) the store,
    serve until SIGTERM or Ctrl-C.

    Raises CannotListen before anything is built when the address is taken.
    """
    log_to_stderr()
    sock = listen(settings.host, settings.port)
    bound()
    from exmech.app import close_app, create_app

    app = create_app(settings)
    server = create_server(app, settings, sock, getattr(app.wsgi_app, "lookup", None))
    signal.signal(signal.SIGTERM, _stop)
    log.info(
        "serving http://%s:%s/sparql (%d threads, state %s)",
        settings.host,
        server.effective_port,
        settings.threads,
        settings.state_dir,
    )
    try:
        server.run()
    finally:
        server.close()
        close_app(app)
