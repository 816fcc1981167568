"""The live server answers a real SPARQL client (the fixture works end to end)."""

from __future__ import annotations

from SPARQLWrapper import JSON, SPARQLWrapper


def test_sparqlwrapper_counts_the_five_review_themes(live_server) -> None:
    client = SPARQLWrapper(live_server.sparql)
    client.setQuery(
        "PREFIX exm: <https://w3id.org/exmech/ontology#> "
        "SELECT (COUNT(?t) AS ?n) { ?t a exm:Theme ; exm:inReview true }"
    )
    client.setReturnFormat(JSON)
    result = client.queryAndConvert()
    assert result["results"]["bindings"][0]["n"]["value"] == "5"
