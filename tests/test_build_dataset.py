"""The built dataset is the shipped files' dataset: the store a build makes, read back, is
the dataset rdflib reads from the same files into the same graphs (an independent parser and
term model; literals not normalised), compared in RDFC-1.0 canonical form (blank-node
labels differ per load)."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from conftest import ROOT
from exmech import vocab
from exmech.build import sources


def canonical(quads: ox.Dataset) -> set[ox.Quad]:
    quads.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return set(quads)


def test_the_built_store_holds_what_rdflib_reads_from_the_files(
    built_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rdflib, "NORMALIZE_LITERALS", False)  # lexical forms as written
    by_rdflib = rdflib.Dataset()
    for source in sources(ROOT, vocab.BASE):
        suffix = source.path.suffix
        fmt = {".ttl": "turtle", ".trig": "trig", ".nq": "nquads", ".nt": "nt"}[suffix]
        if source.graph is None:
            by_rdflib.parse(source.path, format=fmt)
        else:
            by_rdflib.graph(rdflib.URIRef(source.graph)).parse(source.path, format=fmt)
    text = by_rdflib.serialize(format="nquads", encoding="utf-8")
    expected = canonical(ox.Dataset(ox.parse(text, ox.RdfFormat.N_QUADS)))
    store = ox.Store.read_only(str(built_state / "store"))
    built = canonical(ox.Dataset(store))
    assert built == expected
