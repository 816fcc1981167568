"""Linked data and web pages: every IRI resolves, as HTML for people and RDF for machines.

``rdf`` (resources as RDF), ``pages`` (what each page shows), ``dataset`` (dumps, VoID,
sitemap) and ``ontology`` (pyLODE documentation) are plain; ``routes`` is the blueprint:
/, /id/..., /ontology, /evidence-map, /search, /query, /download/, /.well-known/void and
/sitemap.xml.
"""

from __future__ import annotations

from exmech.linked_data.routes import bp as bp

__all__ = ["bp"]
