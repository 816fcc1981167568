"""What each HTML page shows, as plain data for its template.

Every function takes the answer cache and values (never ``request``) and returns a dict; the
reads are ``provenance``'s named questions where one fits, else ``page-*.rq`` queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox

from exmech import provenance, queries, signing, vocab
from exmech.errors import NotFound
from exmech.linked_data import sentences
from exmech.linked_data.rdf import PAGE_ROWS, Description, Node, Statement, labels, select
from exmech.querytext import Bound
from exmech.store import execute_named
from exmech.store.cache import AnswerCache

KIND_NAMES = {
    "theme": "Theme",
    "mechanism": "Mechanism",
    "exercise": "Exercise type",
    "study": "Study",
    "claim": "Claim",
    "curator": "Curator",
    "graph": "Named graph",
}
LABELS = (vocab.SKOS + "prefLabel", vocab.RDFS + "label", vocab.FOAF + "name")
FIRST = (vocab.RDF + "type", *LABELS, vocab.SKOS + "definition", vocab.DCTERMS + "title")
NANOPUB_PARTS = ("head", "assertion", "provenance", "pubinfo")
PART_TITLES = {
    "head": "Head",
    "assertion": "Assertion",
    "provenance": "Provenance",
    "pubinfo": "Publication info",
}


@dataclass(frozen=True)
class Linker:
    """Names and links for IRIs: our resources and terms link to local pages."""

    base: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def href(self, iri: str) -> str:
        """The local path of one of our IRIs, else the IRI itself.

        >>> Linker(vocab.BASE).href("https://w3id.org/exmech/id/study/wun-2021#rank-3")
        '/id/study/wun-2021#rank-3'
        >>> Linker(vocab.BASE).href(vocab.EXM + "Claim")
        '/ontology#Claim'
        """
        for prefix, local in ((f"{self.base}/id/", "/id/"), (vocab.ONTOLOGY, "/ontology")):
            if iri.startswith(prefix):
                return local + iri[len(prefix) :]
        return iri

    def is_local(self, iri: str) -> bool:
        return self.href(iri) != iri

    @staticmethod
    def is_web(iri: str) -> bool:
        """Only http(s) IRIs become links; ``javascript:``, ``data:`` and the rest stay text.

        >>> Linker.is_web("https://doi.org/10.1/x"), Linker.is_web(" JavaScript:alert(1)")
        (True, False)
        >>> Linker.is_web("HTTP://example.org/"), Linker.is_web("data:text/html,<b>")
        (True, False)
        """
        scheme, colon, rest = iri.partition(":")
        return bool(colon) and scheme.lower() in ("http", "https") and rest.startswith("//")

    def curie(self, iri: str) -> str:
        """A prefixed name when a known namespace fits, else the IRI.

        >>> Linker(vocab.BASE).curie(vocab.SKOS + "prefLabel")
        'skos:prefLabel'
        """
        best = ""
        for prefix, namespace in vocab.PREFIXES.items():
            if iri.startswith(namespace) and len(namespace) > len(vocab.PREFIXES.get(best, "")):
                best = prefix
        return f"{best}:{iri[len(vocab.PREFIXES[best]) :]}" if best else iri

    def name(self, iri: str) -> str:
        """The label of a resource, else its prefixed name."""
        return self.labels.get(iri) or self.curie(iri)


def doi_url(doi: str) -> str:
    """The doi.org link of a DOI.

    >>> doi_url("10.2522/ptj.20090218")
    'https://doi.org/10.2522/ptj.20090218'
    """
    return "https://doi.org/" + quote(doi, safe="/:;()._-")


def pubmed_url(pmid: str) -> str:
    return f"https://pubmed.ncbi.nlm.nih.gov/{quote(pmid, safe='')}/"


def facts(statements: list[Statement] | tuple[Statement, ...]) -> list[tuple[str, list[Node]]]:
    """Objects grouped by predicate: type, labels and definitions first, then the rest."""
    grouped: dict[str, list[Node]] = {}
    for st in statements:
        grouped.setdefault(st.p.value, []).append(st.o)

    def order(item: tuple[str, list[Node]]) -> tuple[int, str]:
        return (FIRST.index(item[0]) if item[0] in FIRST else len(FIRST), item[0])

    return sorted(grouped.items(), key=order)


def _own(d: Description) -> list[Statement]:
    return [st for st in d.triples if st.s.value == d.iri]


def title_of(d: Description, linker: Linker) -> str:
    for predicate in LABELS:
        value = d.first(predicate)
        if value:
            return value
    return linker.curie(d.iri)


def _ask(cache: AnswerCache, name: str, value: str | None, base: str) -> list[dict[str, Any]]:
    try:
        result = provenance.ask(
            cache, provenance.QUESTION[name], value, max_rows=PAGE_ROWS, base=base
        )
    except NotFound:
        return []
    return result.rows


def _rows(
    cache: AnswerCache, name: str, binds: dict[str, Bound] | None = None
) -> list[dict[str, Any]]:
    """A named query's rows as plain values (numbers typed), as the API gives them."""
    results = execute_named(cache, queries.load(name), binds, PAGE_ROWS)
    return [{k: provenance.value_of(v) for k, v in row.items()} for row in results.dicts()]


def linker(cache: AnswerCache, base: str) -> Linker:
    return Linker(base, labels(cache))


# Home ------------------------------------------------------------------------------------


def theme_chart(rows: list[dict[str, Any]], width: int = 640, bar: int = 34) -> dict[str, Any]:
    """Geometry of a horizontal bar chart of the review's theme percentages.

    >>> row = {"theme": "t", "label": "A", "reportedPercent": 50, "mentions": 1}
    >>> theme_chart([row])["bars"][0]["width"]
    380.0
    """
    left, right = 190, 70
    span = width - left - right
    most = max((int(r["reportedPercent"]) for r in rows), default=1) or 1
    bars = []
    for i, row in enumerate(rows):
        percent = int(row["reportedPercent"])
        bars.append(
            {
                **row,
                "slug": row["theme"].rsplit("/", 1)[-1],
                "y": i * (bar + 10),
                "width": round(span * percent / most, 1),
                "percent": percent,
            }
        )
    return {
        "bars": bars,
        "width": width,
        "height": len(rows) * (bar + 10),
        "bar": bar,
        "left": left,
    }


def home(cache: AnswerCache) -> dict[str, Any]:
    """Themes with the review's percentages, curation completeness and headline counts."""
    themes = _rows(cache, "theme-frequencies")
    completeness = _rows(cache, "completeness")
    counts: dict[str, int] = {}
    study_classes = set(provenance.STUDY_CLASSES)
    for row in _rows(cache, "class-counts"):
        cls = row["class"]
        key = "study" if cls in study_classes else cls[len(vocab.EXM) :]
        counts[key] = counts.get(key, 0) + int(row["count"])
    reports = _rows(cache, "report-counts")
    # A further report of a trial is not another study, and a retracted claim is not in force:
    # the headline numbers are report-counts', not the class counts.
    counts.update({k: int(v) for k, v in (reports[0] if reports else {}).items()})
    return {
        "themes": themes,
        "chart": theme_chart(themes),
        "completeness": completeness[0] if completeness else None,
        "counts": counts,
        "evidence": _rows(cache, "evidence-counts"),
    }


# Resource pages --------------------------------------------------------------------------


def mechanism_summary(cache: AnswerCache) -> list[dict[str, Any]]:
    return _rows(cache, "page-mechanism-summary")


def _n(row: dict[str, Any], key: str) -> int:
    return int(row.get(key) or 0)


def _studies(n: int) -> str:
    return f"{n} {'study' if n == 1 else 'studies'}"


def verdict_sentence(label: str, row: dict[str, Any] | None) -> str:
    """One plain sentence from a verdict row (theme-verdict, mechanism-verdict or
    exercise-mechanism-verdict): every count is of distinct studies.

    A null finding appears only as "no change" or "did not explain", never among the others.

    >>> row = {"proposed": 10, "proposedInReviews": 1, "measured": 1, "measuredChanged": 1,
    ...        "mediatorTested": 1, "notExplained": 1}
    >>> for part in verdict_sentence("Motor control", row).split("; "):
    ...     print(part)
    Motor control: proposed in 10 studies (1 of them a review)
    measured as an outcome in 1 (1 changed, 0 no change)
    tested as a mediator in 1 (explained in 0, did not explain in 1).
    >>> verdict_sentence("Mastery", None)
    'Mastery: no current claims yet.'
    """
    if not row:
        return f"{label}: no current claims yet."
    parts = []
    if proposed := _n(row, "proposed"):
        reviews = _n(row, "proposedInReviews")
        of = f" ({reviews} of them {'a review' if reviews == 1 else 'reviews'})" if reviews else ""
        parts.append(f"proposed in {_studies(proposed)}{of}")
    if measured := _n(row, "measured"):
        parts.append(
            f"measured as an outcome in {measured} ({_n(row, 'measuredChanged')} changed, "
            f"{_n(row, 'measuredNoChange')} no change)"
        )
    if tested := _n(row, "mediatorTested"):
        parts.append(
            f"tested as a mediator in {tested} (explained in {_n(row, 'explained')}, "
            f"did not explain in {_n(row, 'notExplained')})"
        )
    if moderated := _n(row, "moderatorTested"):
        parts.append(
            f"tested as a moderator in {moderated} (modified the effect in {_n(row, 'modified')})"
        )
    if pooled := _n(row, "pooled"):
        parts.append(f"pooled in {pooled} {'review' if pooled == 1 else 'reviews'}")
    return f"{label}: {'; '.join(parts)}."


def direction_class(row: dict[str, Any] | None) -> str:
    """How an evidence-map cell is coloured: by the direction of its findings.

    >>> [direction_class(r) for r in ({"supporting": 1}, {"nullOrContradicting": 2},
    ...  {"supporting": 1, "nullOrContradicting": 1}, {"findings": 3}, {"proposed": 1}, None)]
    ['supports', 'null', 'mixed', 'examined', 'proposed', 'proposed']
    """
    row = row or {}
    support, null = _n(row, "supporting"), _n(row, "nullOrContradicting")
    if support and null:
        return "mixed"
    if support:
        return "supports"
    if null:
        return "null"
    return "examined" if _n(row, "findings") else "proposed"


def mechanism_verdicts(cache: AnswerCache) -> dict[str, dict[str, Any]]:
    """Mechanism IRI -> its verdict row (mechanisms with current claims only)."""
    return {r["mechanism"]: r for r in _rows(cache, "mechanism-verdict")}


def theme(cache: AnswerCache, d: Description, base: str) -> dict[str, Any]:
    frequency = [r for r in _rows(cache, "theme-frequencies") if r["theme"] == d.iri]
    verdicts = mechanism_verdicts(cache)
    mechanisms = [
        {**r, "verdict": verdict_sentence(r["label"], verdicts.get(r["mechanism"]))}
        for r in mechanism_summary(cache)
        if r["theme"] == d.iri
    ]
    verdict = next((r for r in _rows(cache, "theme-verdict") if r["theme"] == d.iri), None)
    label = verdict["label"] if verdict else d.iri.rsplit("/", 1)[-1]
    return {
        "mechanisms": mechanisms,
        "frequency": frequency[0] if frequency else None,
        "verdict": verdict,
        "verdict_sentence": verdict_sentence(label, verdict),
    }


def group_by(rows: list[dict[str, Any]], key: str, label: str) -> list[dict[str, Any]]:
    """Rows grouped by one column, in first-seen order, each group with its label.

    >>> rows = [{"e": "1", "l": "A"}, {"e": "2", "l": "B"}, {"e": "1", "l": "A"}]
    >>> [(g["label"], len(g["rows"])) for g in group_by(rows, "e", "l")]
    [('A', 2), ('B', 1)]
    """
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = groups.setdefault(
            row[key],
            {"iri": row[key], "label": row[label], "slug": row[key].rsplit("/", 1)[-1], "rows": []},
        )
        group["rows"].append(row)
    return list(groups.values())


def mechanism(cache: AnswerCache, d: Description, base: str) -> dict[str, Any]:
    slug = d.iri.rsplit("/", 1)[-1]
    rows = _ask(cache, "mechanism-claims", slug, base)
    summary = [r for r in mechanism_summary(cache) if r["mechanism"] == d.iri]
    studies = {r["study"] for r in rows}
    verdict = mechanism_verdicts(cache).get(d.iri)
    label = summary[0]["label"] if summary else slug
    return {
        "groups": group_by(rows, "exercise", "exerciseLabel"),
        "summary": summary[0] if summary else None,
        "verdict": verdict,
        "verdict_sentence": verdict_sentence(label, verdict),
        "claim_count": len({r["claim"] for r in rows}),
        "study_count": len(studies),
    }


def exercise(cache: AnswerCache, d: Description, base: str) -> dict[str, Any]:
    slug = d.iri.rsplit("/", 1)[-1]
    related = _rows(cache, "page-exercise-studies", {"exercise": ox.NamedNode(d.iri)})
    return {
        "mechanisms": _ask(cache, "exercise-mechanisms", slug, base),
        "studies": [r for r in related if r["relation"] == "study"],
        "narrower": [r for r in related if r["relation"] == "narrower"],
    }


NOT_REPORTED = "not reported"


def study_summary(d: Description, names: Mapping[str, str]) -> list[tuple[str, str]]:
    """What a reader wants first about a study, in order; "not reported" where the data has
    nothing (never a guess). The design is the design class, with the source's own words.

    >>> s = lambda p, o: Statement("", ox.NamedNode("http://e/x"), ox.NamedNode(p), o)
    >>> d = Description("http://e/x", (s(vocab.EXM + "sampleSize", ox.Literal("70")),
    ...     s(vocab.RDF + "type", ox.NamedNode(vocab.EXM + "RandomisedControlledTrial")),
    ...     s(vocab.EXM + "designLabel", ox.Literal("RCT"))))
    >>> rct = {vocab.EXM + "RandomisedControlledTrial": "randomised controlled trial"}
    >>> dict(study_summary(d, rct))  # doctest: +NORMALIZE_WHITESPACE
    {'Title': 'not reported', 'Journal': 'not reported', 'Year': 'not reported',
     'Design': 'Randomised controlled trial (source: RCT)', 'Sample size': '70 participants',
     'First author': 'not reported'}
    """
    designs = [
        names.get(st.o.value, st.o.value.rsplit("#", 1)[-1])
        for st in d.statements
        if st.s.value == d.iri
        and st.p.value == vocab.RDF + "type"
        and st.o.value in provenance.STUDY_CLASSES
        and st.o.value != vocab.EXM + "Study"
    ]
    design = ", ".join(sorted(designs))
    label = d.first(vocab.EXM + "designLabel")
    if design and label:
        design = f"{design} (source: {label})"
    design = (design or label or "")[:1].upper() + (design or label or "")[1:]
    size = d.first(vocab.EXM + "sampleSize")
    return [
        ("Title", d.first(vocab.DCTERMS + "title") or NOT_REPORTED),
        ("Journal", d.first(vocab.EXM + "journalTitle") or NOT_REPORTED),
        ("Year", d.first(vocab.FABIO + "hasPublicationYear") or NOT_REPORTED),
        ("Design", design or NOT_REPORTED),
        ("Sample size", f"{size} participants" if size else NOT_REPORTED),
        ("First author", d.first(vocab.EXM + "firstAuthor") or NOT_REPORTED),
    ]


def study(cache: AnswerCache, d: Description, base: str) -> dict[str, Any]:
    slug = d.iri.rsplit("/", 1)[-1]
    doi, pmid = d.first(vocab.BIBO + "doi"), d.first(vocab.BIBO + "pmid")
    parts = []
    for part, statements in sorted(d.parts().items(), key=lambda kv: _natural(kv[0])):
        parts.append({"iri": part, "fragment": part.split("#", 1)[1], "facts": facts(statements)})
    return {
        "claims": _ask(cache, "study-claims", slug, base),
        "doi": doi,
        "doi_url": doi_url(doi) if doi else "",
        "pmid": pmid,
        "pubmed_url": pubmed_url(pmid) if pmid else "",
        "parts": parts,
        "summary": study_summary(d, labels(cache)),
        "exercises": sorted(
            st.o.value for st in _own(d) if st.p.value == vocab.EXM + "studiesExerciseType"
        ),
        # The curator's note is kept, below the summary, not in place of a definition.
        "definition": "",
        "note": d.first(vocab.RDFS + "comment"),
    }


def _natural(text: str) -> tuple[str, int]:
    head = text.rstrip("0123456789")
    tail = text[len(head) :]
    return (head, int(tail) if tail else -1)


def claim(cache: AnswerCache, d: Description, base: str) -> dict[str, Any]:
    slug = d.iri.rsplit("/", 1)[-1]
    graphs = d.graphs
    parts: list[dict[str, Any]] = []
    for part in NANOPUB_PARTS:
        name = vocab.iri("graph", f"{slug}-{part}", base)
        if name in graphs:
            parts.append(
                {
                    "part": part,
                    "title": PART_TITLES[part],
                    "graph": name,
                    "statements": graphs[name],
                }
            )
    known = {p["graph"] for p in parts}
    for name, statements in graphs.items():  # graphs named otherwise (submitted nanopubs)
        if name not in known:
            parts.append({"part": "", "title": "Graph", "graph": name, "statements": statements})
    names = labels(cache)
    title = ""
    for shown in parts:
        if shown["part"] == "assertion":
            said = [
                f"{names.get(st.s.value, st.s.value)} → {names.get(st.o.value, st.o.value)}"
                for st in shown["statements"]
                if st.p.value == vocab.EXM + "proposedMechanism"
            ]
            title = "; ".join(said)
    studies = [
        names.get(st.o.value, st.o.value)
        for st in d.statements
        if st.p.value == vocab.PROV + "wasDerivedFrom"
    ]
    assertion = next(
        (st.o.value for st in d.statements if st.p.value == vocab.NP + "hasAssertion"), ""
    )
    provenance_graph = next(
        (st.o.value for st in d.statements if st.p.value == vocab.NP + "hasProvenance"), ""
    )
    about = sentences.facts_of(
        graphs.get(assertion, []),
        [st for st in graphs.get(provenance_graph, []) if st.s.value == assertion],
    )
    out: dict[str, Any] = {
        "sentence": sentences.sentence(about, names) if about.mechanism else "",
        "parts": parts,
        "history": _ask(cache, "claim-history", slug, base),
        "signed": signed_versions(cache, d.iri),
    }
    if title:
        out["title"] = title + (f" ({', '.join(studies)})" if studies else "")
    return out


def signed_versions(cache: AnswerCache, claim: str) -> list[dict[str, str]]:
    """The claim's recorded signed versions, each checked again now by the toolkit:
    its Trusty IRI, whether hash and signature hold (and why not), the key's fingerprint."""
    out = []
    for row in _rows(cache, "signed-versions", {"claim": ox.NamedNode(claim)}):
        status, key = _check(row["content"])
        out.append({"trusty": row["trusty"], "status": status, "key": key})
    return out


@lru_cache(maxsize=1024)
def _check(content: str) -> tuple[str, str]:
    """(status, key fingerprint) of one signed record. The verdict depends on the record's
    text alone, so each text is checked once, not on every view of its claim page (a check
    is an RSA verification and briefly redirects the process's standard output)."""
    try:
        checked = signing.verify(content)
    except signing.SignatureError as exc:
        return f"fails: {exc.message}", ""
    return "valid", signing.fingerprint(checked.public_key)


def curator(cache: AnswerCache, d: Description, base: str) -> dict[str, Any]:
    slug = d.iri.rsplit("/", 1)[-1]
    return {"nanopublications": _ask(cache, "curator-nanopublications", slug, base)}


def graph(cache: AnswerCache, d: Description, base: str) -> dict[str, Any]:
    slug = d.iri.rsplit("/", 1)[-1]
    owner = ""
    for part in NANOPUB_PARTS:
        if slug.endswith("-" + part):
            owner = vocab.iri("claim", slug[: -len(part) - 1], base)
    content = d.graphs.get(d.iri, [])
    return {"content": content[:2000], "total": len(content), "owner": owner}


BUILDERS = {
    "theme": theme,
    "mechanism": mechanism,
    "exercise": exercise,
    "study": study,
    "claim": claim,
    "curator": curator,
    "graph": graph,
}


def resource(cache: AnswerCache, kind: str, d: Description, base: str) -> dict[str, Any]:
    """The context of one resource page: common parts plus the kind's own sections."""
    link = linker(cache, base)
    return {
        "kind": kind,
        "kind_name": KIND_NAMES[kind],
        "resource_iri": d.iri,
        "slug": d.iri.rsplit("/", 1)[-1],
        "title": title_of(d, link),
        "facts": facts(_own(d)),
        "definition": d.first(vocab.SKOS + "definition") or d.first(vocab.RDFS + "comment"),
        "link": link,
        **BUILDERS[kind](cache, d, base),
    }


# Evidence map, search, query page --------------------------------------------------------


def evidence_map(cache: AnswerCache, base: str) -> dict[str, Any]:
    """Exercise types (columns) × mechanisms grouped by theme (rows); a cell counts studies."""
    verdicts = {
        (r["mechanism"], r["exercise"]): r for r in _rows(cache, "exercise-mechanism-verdict")
    }
    cells = [
        {
            **r,
            "verdict": verdicts.get((r["mechanism"], r["exercise"])),
            "direction": direction_class(verdicts.get((r["mechanism"], r["exercise"]))),
            "sentence": verdict_sentence(
                f"{r['mechanismLabel']} × {r['exerciseLabel']}",
                verdicts.get((r["mechanism"], r["exercise"])),
            ),
        }
        for r in _ask(cache, "evidence-map", None, base)
    ]
    summary = {r["mechanism"]: r for r in mechanism_summary(cache)}
    theme_order = [r["theme"] for r in _rows(cache, "theme-frequencies")]
    exercises = sorted({(r["exerciseLabel"], r["exercise"]) for r in cells})
    by_cell = {(r["mechanism"], r["exercise"]): r for r in cells}
    themes: dict[str, dict[str, Any]] = {}
    for mech in sorted({r["mechanism"] for r in cells}):
        row = summary.get(mech, {})
        theme_iri = row.get("theme") or next(r["theme"] for r in cells if r["mechanism"] == mech)
        group = themes.setdefault(
            theme_iri,
            {"iri": theme_iri, "label": row.get("themeLabel", theme_iri), "mechanisms": []},
        )
        group["mechanisms"].append(
            {
                "iri": mech,
                "slug": mech.rsplit("/", 1)[-1],
                "label": row.get("label", mech),
                "rank": row.get("rank"),
                "studies": row.get("studies", 0),
                "cells": [by_cell.get((mech, ex)) for _, ex in exercises],
            }
        )
    for group in themes.values():
        group["mechanisms"].sort(key=lambda m: (m["rank"] is None, m["rank"] or 0, m["label"]))
    ordered = sorted(
        themes.values(),
        key=lambda t: (theme_order.index(t["iri"]) if t["iri"] in theme_order else 99, t["label"]),
    )
    most = max((int(r["studies"]) for r in cells), default=1)
    return {
        "exercises": [
            {"iri": iri, "label": label, "slug": iri.rsplit("/", 1)[-1]} for label, iri in exercises
        ],
        "themes": ordered,
        "most": most,
        "cells": len(cells),
    }


SEARCH_KINDS = {"mechanism": "Mechanism", "exercise": "Exercise type", "study": "Study"}
MAX_SEARCH = 200


def search(cache: AnswerCache, text: str, base: str) -> list[dict[str, Any]]:
    """Mechanisms, exercise types and studies whose label, name or title contains ``text``."""
    text = text.strip()
    if not text:
        return []
    found = []
    for row in _rows(cache, "page-search", {"text": ox.Literal(text)}):
        split = vocab.split_iri(row["resource"], base)
        if split is None or split[0] not in SEARCH_KINDS:
            continue
        found.append({**row, "kind": split[0], "kind_name": SEARCH_KINDS[split[0]]})
    order = list(SEARCH_KINDS)
    found.sort(key=lambda r: (order.index(r["kind"]), str(r["label"]).lower()))
    return found


def query_examples() -> list[dict[str, str]]:
    """The shipped queries for the query page (not the pages' own), with example values bound."""
    examples: dict[str, dict[str, Bound]] = {}
    for question in provenance.QUESTIONS:
        parameter = question.parameter
        if parameter is not None:
            value = provenance.parse_value(parameter, parameter.example)
            examples[question.query] = {parameter.variable: value}
    out = []
    for name in queries.names():
        if name.startswith("page-"):
            continue
        named = queries.load(name)
        text = named.text.rstrip("\n") + provenance.values_clause(examples.get(name, {}))
        out.append({"name": name, "answers": named.answers, "text": text, "form": named.form})
    return out


def query_editor(cache: AnswerCache, base: str) -> dict[str, Any]:
    """What the query editor completes: our prefixes (for the site's base), and the classes
    and properties the data uses, as full IRIs (the editor shows them as prefixed names)."""
    prefixes = {k: v for k, v in vocab.PREFIXES.items() if k not in vocab.KINDS}
    prefixes.update({kind: f"{base}/id/{kind}/" for kind in vocab.KINDS})
    classes = sorted({r["class"].value for r in select(cache, "page-void-classes")})
    properties = sorted({r["property"].value for r in select(cache, "page-void-properties")})
    return {
        "prefixes": prefixes,
        "classes": [c for c in classes if c.startswith(tuple(prefixes.values()))],
        "properties": [p for p in properties if p.startswith(tuple(prefixes.values()))],
    }
