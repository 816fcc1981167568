"""What a query may reach: no outbound request unless an allow-list says so. Pure.

SERVICE is refused unless its endpoint IRI starts with an allowed prefix (a variable
endpoint never does); FROM / FROM NAMED and the protocol's graph parameters must name
graphs the store holds (exmech never fetches a graph); updates, LOAD included, are refused
on the query endpoint. Sizes are checked before anything is parsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from exmech.errors import BadRequest, Forbidden, PayloadTooLarge
from exmech.querytext import QueryText

UPDATE_REFUSED = (
    "SPARQL Update is not accepted: this endpoint is read-only; curators submit evidence "
    "through POST /curation/submissions"
)
# Oxigraph's parser and evaluator recurse: measured with pyoxigraph 0.5, about 1,000 nested
# function calls, 3,000 nested groups, or 3,000 chained OPTIONAL / BIND / SELECT expressions
# overflow a worker's stack and kill it. These limits keep well below, and far above any
# real query.
MAX_NESTING = 100
MAX_OPERATORS = 1000
OPERATORS = frozenset({"OPTIONAL", "BIND", "AS", "MINUS", "UNION", "FILTER", "GRAPH", "SERVICE"})
_OPEN, _CLOSE = "({[", ")}]"
# Where an allowed prefix may stop inside a longer IRI: a prefix that ends mid-name must
# not let "https://ok.org" admit "https://ok.org.evil.net/".
_BOUNDARIES = ("/", "#", "?")


def allowed(target: str, allowlist: Iterable[str]) -> bool:
    """Whether ``target`` starts with one of the allowed IRI prefixes, at a boundary.

    >>> allowed("http://127.0.0.1:9/sparql", [])
    False
    >>> allowed("https://query.wikidata.org/sparql", ["https://query.wikidata.org/"])
    True
    >>> allowed("https://query.wikidata.org.evil.net/", ["https://query.wikidata.org"])
    False
    >>> allowed("https://query.wikidata.org/sparql", ["https://query.wikidata.org"])
    True
    >>> allowed("?endpoint", ["?"])
    False
    """
    if not target or target.startswith(("?", "$")):
        return False
    for prefix in allowlist:
        if not prefix or not target.startswith(prefix):
            continue
        if target == prefix or prefix.endswith(_BOUNDARIES):
            return True
        if target[len(prefix)] in _BOUNDARIES:
            return True
    return False


def check_bytes(size: int, limit: int, what: str = "query") -> None:
    """Raise PayloadTooLarge when ``size`` bytes exceed ``limit``.

    >>> check_bytes(10, 10)
    >>> check_bytes(11, 10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    exmech.errors.PayloadTooLarge: query is 11 bytes; this endpoint accepts at most 10 ...
    """
    if size > limit:
        raise PayloadTooLarge(
            f"{what} is {size} bytes; this endpoint accepts at most {limit} "
            "(EXMECH_MAX_QUERY_BYTES)"
        )


def check_size(text: str, limit: int) -> None:
    """Raise PayloadTooLarge when the UTF-8 query text is longer than ``limit`` bytes."""
    check_bytes(len(text.encode("utf-8")), limit)


def max_body_bytes(max_query_bytes: int) -> int:
    """The largest request body worth reading for a query of at most ``max_query_bytes``.

    Percent-encoding can triple a query in a form body; the rest is room for the graph
    parameters.

    >>> max_body_bytes(1000)
    11192
    """
    return 3 * max_query_bytes + 8192


def check_shape(info: QueryText) -> None:
    """Raise BadRequest for a query nested or chained deeper than the engine can take.

    >>> from exmech.querytext import analyse
    >>> check_shape(analyse("ASK { FILTER(" + "(" * 50 + "1" + ")" * 50 + ") }"))
    >>> check_shape(analyse("ASK " + "{" * 101 + "}" * 101))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    exmech.errors.BadRequest: query nests brackets 101 deep; at most 100 are accepted
    """
    depth = deepest = operators = 0
    for token in info.tokens:
        if token.kind == "punct" and token.text in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif token.kind == "punct" and token.text in _CLOSE:
            depth -= 1
        elif token.kind == "word" and token.text.upper() in OPERATORS:
            operators += 1
    if deepest > MAX_NESTING:
        raise BadRequest(f"query nests brackets {deepest} deep; at most {MAX_NESTING} are accepted")
    if operators > MAX_OPERATORS:
        raise BadRequest(
            f"query chains {operators} OPTIONAL / BIND / AS / MINUS / UNION / FILTER / GRAPH "
            f"operators; at most {MAX_OPERATORS} are accepted"
        )


def check_query(info: QueryText, allowlist: Iterable[str]) -> None:
    """Raise Forbidden for an update, a LOAD, or a SERVICE outside the allow-list.

    >>> from exmech.querytext import analyse
    >>> query = analyse("SELECT * { SERVICE SILENT ?s { ?a ?b ?c } }")
    >>> check_query(query, ["http://x/"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    exmech.errors.Forbidden: SERVICE ?s is not allowed: exmech makes no outbound requests ...
    """
    allow = tuple(allowlist)
    if info.is_update or info.loads:
        targets = f" (LOAD {', '.join(f'<{t}>' for t in info.loads)})" if info.loads else ""
        raise Forbidden(UPDATE_REFUSED + targets)
    for target in info.services:
        if not allowed(target, allow):
            shown = target if target.startswith(("?", "$")) else f"<{target}>"
            raise Forbidden(
                f"SERVICE {shown} is not allowed: exmech makes no outbound requests unless "
                "EXMECH_SERVICE_ALLOWLIST names the endpoint"
            )


def check_graphs(requested: Mapping[str, Iterable[str]], graphs: frozenset[str]) -> None:
    """Raise Forbidden unless every requested graph is one of the store's ``graphs``.

    ``requested`` maps where the names came from (``FROM``, ``default-graph-uri``...) to
    the names, for the message.

    >>> check_graphs({"FROM": ["http://e/g"]}, frozenset({"http://e/g"}))
    >>> check_graphs({"named-graph-uri": ["http://127.0.0.1:9/"]}, frozenset())
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    exmech.errors.Forbidden: named-graph-uri <http://127.0.0.1:9/> is not a graph of this dataset...
    """
    for kind, names in requested.items():
        for name in names:
            if name not in graphs:
                raise Forbidden(
                    f"{kind} <{name}> is not a graph of this dataset, and exmech never fetches "
                    "remote graphs; list the graphs with "
                    "SELECT ?g { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
                )
