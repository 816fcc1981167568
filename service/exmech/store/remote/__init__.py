"""The remote store: an external SPARQL 1.1 server behind the same Store protocol.

For users who outgrow one machine. Reads go to the query endpoint, writes to the update
endpoint (and, in builds, big graphs to the Graph Store Protocol endpoint). Virtuoso 7 is
the server tested; every engine difference is handled in this package and nowhere else:

* Results are always fetched as SPARQL JSON (SELECT, ASK) or N-Triples (CONSTRUCT,
  DESCRIBE) and re-serialized by pyoxigraph into the format asked for, so clients get the
  bytes the embedded store would give (Virtuoso's TSV is really quoted CSV, its JSON says
  ``typed-literal``, its ASK comes back as a one-row SELECT, its blank node labels are
  ``nodeID://...``): ``dialect``.
* Virtuoso's default graph is the union of every graph, its own system graphs included.
  Scoping each query does not work there (its ``input:*-graph-exclude`` pragmas make
  ``GRAPH <iri>`` patterns return wrong rows; exmech's ~1,000 graphs as ``default-graph-uri``
  make it echo a header per graph, past urllib's limit of 100; FROM lists are 30x slower), so
  the server keeps every other graph private (docs/remote-store.md) and exmech checks, once
  per process and after each build, that the query endpoint shows its graphs only
  (``store.RemoteStore.check_isolation``). Its own bookkeeping is private too, read through
  the authenticated endpoint (``bookkeeping``).
* Virtuoso answers a query that ran out of time with whatever it had ("anytime" results,
  HTTP 200 with ``X-SQL-State: S1TAT``); that becomes QueryTimeout, never an answer. A
  result cut by the server's ``ResultSetMaxRows`` carries ``X-SPARQL-MaxRows``: truncated
  (``protocol``).
* Virtuoso runs its own SQL functions from SPARQL (``bif:http_get`` fetches any URL as the
  anonymous user) and its sponger from pragmas (``DEFINE get:soft``, ``OPTION (get:...)``):
  queries using them are refused before they are sent, whatever the policy allows
  (``dialect.refuse_engine_extensions``).
* Virtuoso refuses blank nodes in INSERT DATA and compiles INSERT templates into SQL of at
  most 10,000 lines (about 1,000 triples): data without blank nodes goes in INSERT DATA
  chunks, blank-node data in templates of whole blank-node components (``bulk``).

Modules, lowest first: ``dialect`` (query text out, results in), ``protocol`` (HTTP),
``bulk`` (build loads), ``bookkeeping`` (state and journal on the server), ``store``.
"""

from __future__ import annotations

from exmech.store.remote.bulk import GSP_THRESHOLD
from exmech.store.remote.store import RemoteStore

__all__ = ["GSP_THRESHOLD", "RemoteStore"]
