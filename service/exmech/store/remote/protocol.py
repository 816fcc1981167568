"""Talking to the SPARQL server: one request at a time, every failure an exmech error.

Requests go through SPARQLWrapper over urllib with exmech's own opener (SPARQLWrapper's
digest support installs a process-global opener, which every thread would share). Replies
are bytes and headers; what they mean is the store's business.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
from SPARQLWrapper import SPARQLWrapper

from exmech.errors import (
    BadRequest,
    ExmechError,
    QueryTimeout,
    StoreUnavailable,
    Unprocessable,
)
from exmech.settings import Settings
from exmech.store.remote.dialect import normalise_json

JSON_RESULTS = "application/sparql-results+json"
NTRIPLES = "application/n-triples"
UPDATE_TIMEOUT = 300.0  # writes and bulk loads may take longer than a query
PAGE = 10_000  # rows per page of bookkeeping reads (Virtuoso sorts at most 10,000)
WRITE_ATTEMPTS = 3


class _Wrapper(SPARQLWrapper):
    """SPARQLWrapper building the request; exmech's opener sending it.

    The form is known from exmech's lexer, so SPARQLWrapper's regex guess (and its warnings)
    are skipped; the opener is per request, so digest state is never shared across threads.
    """

    def __init__(
        self, endpoint: str, form: str, opener: urllib.request.OpenerDirector, timeout: float
    ) -> None:
        self._form = form
        self._opener = opener
        self._seconds = timeout  # SPARQLWrapper types its timeout as whole seconds
        super().__init__(endpoint, updateEndpoint=endpoint)

    def _parseQueryType(self, query: str) -> str:  # noqa: N802 - SPARQLWrapper's name
        return self._form

    def _query(self) -> tuple[http.client.HTTPResponse, str]:
        request = self._createRequest()
        return self._opener.open(request, timeout=self._seconds), self.returnFormat


@dataclass(frozen=True)
class Reply:
    body: bytes
    headers: http.client.HTTPMessage

    def header(self, name: str) -> str:
        return str(self.headers.get(name, "") or "")


class Connection:
    """The server's endpoints and credentials, and the requests exmech sends them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.query_url = settings.remote_query_url
        self.update_url = settings.remote_update_url or settings.remote_query_url
        self.gsp_url = settings.remote_gsp_url
        self.timeout = settings.query_timeout
        self._virtuoso: bool | None = None

    def is_virtuoso(self) -> bool:
        """Whether the server says it is Virtuoso (learned from its first reply)."""
        if self._virtuoso is None:
            self.send(self.query_url, "ASK", "ASK {}", JSON_RESULTS, [], self.timeout)
        return bool(self._virtuoso)

    def book(self) -> str:
        """Where exmech reads its bookkeeping: Virtuoso keeps it private, behind the login."""
        return self.update_url if self.is_virtuoso() else self.query_url

    def opener(self) -> urllib.request.OpenerDirector:
        """A fresh opener: digest handlers keep per-exchange state, so never share one."""
        settings = self.settings
        if not settings.remote_user:
            return urllib.request.build_opener()
        urls = [u for u in (self.query_url, self.update_url, self.gsp_url) if u]
        if settings.remote_auth == "basic":
            prior = urllib.request.HTTPPasswordMgrWithPriorAuth()
            for url in urls:
                prior.add_password(
                    None, url, settings.remote_user, settings.remote_password, is_authenticated=True
                )
            return urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(prior))
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        for url in urls:
            manager.add_password(None, url, settings.remote_user, settings.remote_password)
        return urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(manager))

    def send(
        self,
        endpoint: str,
        form: str,
        text: str,
        accept: str,
        params: list[tuple[str, str]],
        timeout: float,
    ) -> Reply:
        """One protocol request; server and network failures become exmech errors."""
        wrapper = _Wrapper(endpoint, form, self.opener(), timeout)
        wrapper.setMethod("POST")
        wrapper.setOnlyConneg(True)
        wrapper.setQuery(text)
        wrapper.addCustomHttpHeader("Accept", accept)
        for name, value in params:
            wrapper.addParameter(name, value)
        try:
            response = wrapper.query().response
            body = response.read()
            headers = response.headers
        except urllib.error.HTTPError as exc:
            self._learn(exc.headers)
            raise http_error(exc.code, exc.read(), endpoint) from exc
        except TimeoutError as exc:
            raise QueryTimeout(late(timeout)) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise QueryTimeout(late(timeout)) from exc
            raise StoreUnavailable(
                f"cannot reach the SPARQL server at {endpoint}: {exc.reason}"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise StoreUnavailable(f"the SPARQL server at {endpoint} failed: {exc}") from exc
        self._learn(headers)
        reply = Reply(body, headers)
        if reply.header("X-SQL-State").startswith("S1T"):
            raise QueryTimeout(
                f"query stopped after the {timeout:g} s timeout (EXMECH_QUERY_TIMEOUT, or the "
                "server's own MaxQueryExecutionTime); Virtuoso had only a partial answer, which "
                "exmech does not return"
            )
        return reply

    def _learn(self, headers: Any) -> None:
        if self._virtuoso is None and headers is not None:
            self._virtuoso = str(headers.get("Server", "")).startswith("Virtuoso")

    def update(self, text: str) -> None:
        for attempt in range(WRITE_ATTEMPTS):
            try:
                self.send(self.update_url, "INSERT", text, JSON_RESULTS, [], UPDATE_TIMEOUT)
                return
            except StoreUnavailable as exc:
                if "40001" not in exc.message or attempt == WRITE_ATTEMPTS - 1:
                    raise  # only a deadlock between concurrent writers is worth retrying
                time.sleep(0.1 * (attempt + 1))
            except BadRequest as exc:
                raise Unprocessable(f"the SPARQL server refused the update: {exc.message}") from exc

    def select(self, text: str) -> list[dict[str, str]]:
        """Rows of a bookkeeping SELECT as {variable: value}, uncapped."""
        reply = self.send(self.book(), "SELECT", text, JSON_RESULTS, [], UPDATE_TIMEOUT)
        data = json.loads(reply.body)
        return [{k: v["value"] for k, v in row.items()} for row in data["results"]["bindings"]]

    def ask(self, text: str) -> bool:
        reply = self.send(self.book(), "ASK", text, JSON_RESULTS, [], UPDATE_TIMEOUT)
        data = json.loads(normalise_json(reply.body))
        return bool(data.get("boolean"))

    def pages(
        self, template: str, endpoint: str | None = None, key: str = "g"
    ) -> Iterator[dict[str, str]]:
        """All rows of a bookkeeping SELECT, a page at a time, in ``?key`` order.

        Pages start after the last key seen rather than at an OFFSET: Virtuoso refuses to
        sort past 10,000 rows (MaxSortedTopRows), and servers cap result sizes.
        """
        numeric = key == "seq"
        order = f"?{key}" if numeric else f"STR(?{key})"
        after, size = "", PAGE
        while True:
            text = template.replace("AFTER", after) + f" ORDER BY {order} LIMIT {size}"
            reply = self.send(
                endpoint or self.book(), "SELECT", text, JSON_RESULTS, [], UPDATE_TIMEOUT
            )
            server_cap = reply.header("X-SPARQL-MaxRows")
            if server_cap and int(server_cap) < size:
                size = int(server_cap)  # the server cut this page: ask again in its size
                continue
            rows = [
                {k: v["value"] for k, v in row.items()}
                for row in json.loads(reply.body)["results"]["bindings"]
            ]
            yield from rows
            if len(rows) < size:
                return
            last = rows[-1][key]
            after = (
                f"FILTER (?{key} > {int(last)})"
                if numeric
                else (f"FILTER (STR(?{key}) > {ox.Literal(last)})")
            )

    def gsp_post(self, graph: str, triples: list[ox.Triple]) -> None:
        url = (
            self.gsp_url
            + ("&" if "?" in self.gsp_url else "?")
            + urllib.parse.urlencode({"graph": graph})
        )
        body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": NTRIPLES}
        )
        try:
            with self.opener().open(request, timeout=UPDATE_TIMEOUT) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise StoreUnavailable(
                f"the Graph Store endpoint refused graph <{graph}>: HTTP {exc.code} "
                f"{server_message(exc.read())}"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise StoreUnavailable(
                f"cannot reach the Graph Store endpoint {self.gsp_url}: {exc}"
            ) from exc


def server_message(body: bytes) -> str:
    """The first line of a server's error body (Virtuoso echoes the whole query after it)."""
    text = body.decode("utf-8", errors="replace").strip()
    line = text.splitlines()[0] if text else "no message"
    return line[:300]


def late(timeout: float) -> str:
    return (
        f"query stopped after the {timeout:g} s timeout (EXMECH_QUERY_TIMEOUT); narrow it with "
        "more specific patterns or a LIMIT"
    )


def http_error(code: int, body: bytes, endpoint: str) -> ExmechError:
    message = server_message(body)
    if code == 400:
        return BadRequest(f"the SPARQL server rejected the query: {message}")
    if code in (401, 403):
        return StoreUnavailable(
            f"the SPARQL server at {endpoint} refused exmech's credentials "
            f"(EXMECH_REMOTE_USER, EXMECH_REMOTE_AUTH): {message}"
        )
    if code == 404:
        return StoreUnavailable(f"no SPARQL endpoint at {endpoint} (HTTP 404)")
    if "40001" in message or "access denied" in message or "permission" in message:
        # a deadlock between writers (retried), or a server set up without the grants
        return StoreUnavailable(f"the SPARQL server refused: {message}")
    if "S1T00" in message or "timed out" in message or "estimated execution time" in message:
        return QueryTimeout(f"the SPARQL server stopped the query: {message}")
    if code == 500 and re.match(r"Virtuoso \w+ Error (S[PQR]\d+|RDF\w+|22\w+)", message):
        # Virtuoso compiled or ran the query and refused it (e.g. SR319 row length).
        return BadRequest(f"the SPARQL server cannot answer this query: {message}")
    return StoreUnavailable(f"the SPARQL server failed (HTTP {code}): {message}")
