"""Path values (a slug or a DOI) checked and turned into the term a question binds.

Pure: a malformed value is refused here, before any query runs, so a bad URL costs nothing
and never reaches SPARQL text.
"""

from __future__ import annotations

import re

import pyoxigraph as ox

from exmech import vocab
from exmech.errors import BadRequest
from exmech.provenance.questions import Parameter
from exmech.querytext import Bound

# Crossref's recommended pattern (it matches nearly every DOI issued): no quotes, spaces or
# backslashes, so a valid DOI is also a safe SPARQL string.
DOI = re.compile(r"^10\.\d{4,9}/[-._;()/:a-zA-Z0-9]+$")


def parse_value(parameter: Parameter, raw: str, base: str = vocab.BASE) -> Bound:
    """The bound value for a path parameter; raises BadRequest when it is malformed.

    >>> from exmech.provenance.questions import QUESTION
    >>> parse_value(QUESTION["mechanism-claims"].parameter, "mood")
    <NamedNode value=https://w3id.org/exmech/id/mechanism/mood>
    >>> parse_value(QUESTION["doi-claims"].parameter, "10.1155/2013/130818")
    <Literal value=10.1155/2013/130818 datatype=<NamedNode value=http://www.w3.org/2001/XMLSchema#string>>
    """
    if parameter.kind == "doi":
        if len(raw) > 300 or not DOI.match(raw):
            raise BadRequest(
                f"malformed DOI {raw[:100]!r}: expected 10.<registrant>/<suffix>, "
                "e.g. 10.2522/ptj.20110290"
            )
        return ox.Literal(raw)
    try:
        return ox.NamedNode(vocab.iri(parameter.kind, raw, base))
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
