"""What a query may reach: no outbound request unless an allow-list says so. Pure.

SERVICE is refused unless its endpoint starts with an allowed prefix (a variable endpoint
never is); FROM / FROM NAMED and the protocol's graph parameters must name graphs the store
holds (exmech never fetches a graph); updates, LOAD included, are refused on the query
endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable

from exmech.errors import Forbidden, PayloadTooLarge
from exmech.querytext import QueryText


def allowed(target: str, allowlist: Iterable[str]) -> bool:
    """Whether ``target`` starts with one of the allowed IRI prefixes.

    >>> allowed("http://127.0.0.1:9/sparql", [])
    False
    >>> allowed("https://query.wikidata.org/sparql", ["https://query.wikidata.org/"])
    True
    >>> allowed("?endpoint", ["?"])
    False
    """
    if target.startswith(("?", "$")):
        return False
    return any(prefix and target.startswith(prefix) for prefix in allowlist)


def check_size(text: str, limit: int) -> None:
    size = len(text.encode("utf-8"))
    if size > limit:
        raise PayloadTooLarge(
            f"query is {size} bytes; this endpoint accepts at most {limit} (EXMECH_MAX_QUERY_BYTES)"
        )


def check_query(
    info: QueryText,
    allowlist: Iterable[str],
    graphs: frozenset[str],
    default_graph_uris: Iterable[str] = (),
    named_graph_uris: Iterable[str] = (),
) -> None:
    """Raise Forbidden for anything that would reach outside the store, or write to it."""
    allow = tuple(allowlist)
    if info.is_update:
        targets = f" (LOAD {', '.join(f'<{t}>' for t in info.loads)})" if info.loads else ""
        raise Forbidden(
            "SPARQL Update is not accepted on the query endpoint, which is read-only"
            f"{targets}; curators submit evidence through POST /curation/submissions"
        )
    for target in info.services:
        if not allowed(target, allow):
            shown = target if target.startswith(("?", "$")) else f"<{target}>"
            raise Forbidden(
                f"SERVICE {shown} is not allowed: exmech makes no outbound requests unless "
                "EXMECH_SERVICE_ALLOWLIST names the endpoint"
            )
    for kind, names in (
        ("FROM", info.from_graphs),
        ("FROM NAMED", info.from_named),
        ("default-graph-uri", list(default_graph_uris)),
        ("named-graph-uri", list(named_graph_uris)),
    ):
        for name in names:
            if name not in graphs and not allowed(name, allow):
                raise Forbidden(
                    f"{kind} <{name}> is not a graph of this dataset, and exmech never fetches "
                    "remote graphs; list the graphs with SELECT DISTINCT ?g { GRAPH ?g {} }"
                )
