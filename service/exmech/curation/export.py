"""Exports: accepted submissions out of the journal as one TriG document (``exmech
export``), and every current claim as a signed nanopublication (``exmech export --nanopub``).

The TriG export reads the journal, not the store, so it gives exactly what curators sent
and the service accepted. The signed export reads the store (shipped and submitted claims
alike, whatever their IRIs) and signs through ``exmech.signing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyoxigraph as ox

from exmech import nanopub, queries, signing, vocab
from exmech.errors import BadRequest, StoreUnavailable
from exmech.store import Store, Term, execute_named
from exmech.store.journal import Journal


def export_trig(journal: Journal, since: datetime | None = None) -> bytes:
    """Submissions accepted at or after ``since`` (all when None) as one TriG document."""
    quads: set[ox.Quad] = set()
    for record in journal.entries():
        if since is None or (record.accepted is not None and record.accepted >= since):
            quads.update(ox.parse(record.payload, format=ox.RdfFormat.N_QUADS))
    ordered = sorted(
        quads, key=lambda q: (str(q.graph_name), str(q.subject), str(q.predicate), str(q.object))
    )
    return ox.serialize(ordered, format=ox.RdfFormat.TRIG, prefixes=vocab.PREFIXES) or b""


# --- signed nanopublications (``exmech export --nanopub``) ---------------------------------


@dataclass(frozen=True)
class SignedExport:
    """One current claim in the network's form: its signed version and whether it is new
    (signed now) or the recorded one (passed on unchanged)."""

    claim: str
    signed: signing.Signed
    new: bool


def _select(store: Store, name: str, **iris: str) -> list[dict[str, Term]]:
    """Rows of a shipped query as {variable: term}; refuses a truncated answer."""
    bound = {k: ox.NamedNode(v) for k, v in iris.items()}
    results = execute_named(store, queries.load(name), bound)
    if results.truncated:
        raise StoreUnavailable(f"{name}: more rows than EXMECH_MAX_ROWS; raise it to export")
    return results.dicts()


def signed_versions(store: Store, claim: str) -> dict[str, str]:
    """Trusty IRI -> signed TriG of every signed version recorded for ``claim``."""
    rows = _select(store, "signed-versions", claim=claim)
    return {nanopub.value(r["trusty"]): nanopub.value(r["content"]) for r in rows}


def signed_claims(
    store: Store, private_key: str | None, since: datetime | None = None
) -> list[SignedExport]:
    """Every current claim (created at or after ``since``) as a signed nanopublication.

    A claim with a recorded signed version that still checks out is passed on unchanged;
    the others are signed with ``private_key`` (BadRequest when none is given). Deterministic:
    the same claim and key give the same Trusty IRI.
    """
    out = []
    for row in _select(store, "claims-current"):
        created = datetime.fromisoformat(nanopub.value(row["created"]).replace("Z", "+00:00"))
        if since is not None and created < since:
            continue
        claim = nanopub.value(row["claim"])
        recorded = list(signed_versions(store, claim).values())
        if recorded:
            out.append(SignedExport(claim, signing.verify(recorded[0]), False))
            continue
        if private_key is None:
            raise BadRequest(
                f"<{claim}> has no signed version yet: give a private key to sign it "
                "(--key or EXMECH_KEY_FILE; `exmech key create` makes one)"
            )
        quads = [
            ox.Quad(r["s"], r["p"], r["o"], r["g"])  # type: ignore[arg-type]
            for r in _select(store, "nanopub-quads", resource=claim)
        ]
        graphs = {p: nanopub.value(row[p]) for p in ("head", "assertion", "provenance", "pubinfo")}
        trig = signing.to_network(quads, claim, graphs)
        out.append(SignedExport(claim, signing.sign(trig, private_key), True))
    return out


def record_all(store: Store, exports: list[SignedExport], base: str) -> str | None:
    """Link each newly signed claim and its Trusty IRI in the store (one journaled write)."""
    quads = [q for e in exports if e.new for q in signing.record(e.claim, e.signed, base)]
    if not quads:
        return None
    return store.add(ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b"")
