"""Accepted submissions out of the journal as one TriG document (``exmech export``).

Reads the journal, not the store, so it gives exactly what curators sent and the service
accepted, whatever else the store holds.
"""

from __future__ import annotations

from datetime import datetime

import pyoxigraph as ox

from exmech import vocab
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
