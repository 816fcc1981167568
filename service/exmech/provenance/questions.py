"""The table of questions the API answers: one row per ``/api`` path and its named query.

Routes, the OpenAPI document and the linked-data pages are all generated from this one table,
so adding a question here (and its ``queries/*.rq`` file) is the whole change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exmech import vocab


@dataclass(frozen=True)
class Parameter:
    """A path parameter: how it is validated, which query variable it binds, what must exist."""

    name: str  # slug or doi
    variable: str
    kind: str  # a vocab kind, or "doi"
    classes: tuple[str, ...]  # the resource must be typed with one of these
    example: str
    description: str


@dataclass(frozen=True)
class Question:
    """One API operation: a path under /api answered by one named query."""

    name: str
    path: str  # OpenAPI path template, relative to /api
    query: str
    parameter: Parameter | None = None

    @property
    def rule(self) -> str:
        """The Flask URL rule (a DOI may hold slashes).

        >>> QUESTION["doi-claims"].rule
        '/dois/<text:doi>'
        """
        return re.sub(
            r"\{(\w+)\}", lambda m: "<text:doi>" if m[1] == "doi" else f"<{m[1]}>", self.path
        )


def _slug(kind: str, variable: str, classes: tuple[str, ...], example: str) -> Parameter:
    return Parameter(
        "slug",
        variable,
        kind,
        classes,
        example,
        f"Slug of the {kind}: lower-case letters, digits and hyphens "
        f"(the last segment of https://w3id.org/exmech/id/{kind}/...).",
    )


EXM, PROV = vocab.EXM, vocab.PROV
STUDY_CLASSES = tuple(
    EXM + c
    for c in (
        "RandomisedControlledTrial",
        "NonRandomisedControlledTrial",
        "SecondaryAnalysis",
        "SystematicReview",
        "MetaAnalysis",
        "Study",
    )
)
AGENT_CLASSES = tuple(PROV + c for c in ("Person", "SoftwareAgent", "Organization", "Agent"))

QUESTIONS: tuple[Question, ...] = (
    Question(
        "mechanism-claims",
        "/mechanisms/{slug}/claims",
        "mechanism-claims",
        _slug("mechanism", "mechanism", (EXM + "Mechanism",), "pain-self-efficacy"),
    ),
    Question(
        "study-claims",
        "/studies/{slug}",
        "study-claims",
        _slug("study", "study", STUDY_CLASSES, "sherman-2013"),
    ),
    Question(
        "curator-nanopublications",
        "/curators/{slug}",
        "curator-nanopublications",
        _slug("curator", "curator", AGENT_CLASSES, "exmech-import"),
    ),
    Question(
        "exercise-mechanisms",
        "/exercises/{slug}/mechanisms",
        "exercise-mechanisms",
        _slug("exercise", "exercise", (EXM + "ExerciseType",), "yoga"),
    ),
    Question(
        "claim-history",
        "/claims/{slug}/history",
        "claim-history",
        _slug("claim", "claim", (EXM + "Claim",), "b4430077aab51b613f10"),
    ),
    Question(
        "doi-claims",
        "/dois/{doi}",
        "doi-claims",
        Parameter(
            "doi",
            "doi",
            "doi",
            (),
            "10.2522/ptj.20110290",
            "A DOI such as 10.2522/ptj.20110290 (slashes allowed; compared case-insensitively).",
        ),
    ),
    Question("evidence-map", "/evidence-map", "evidence-map"),
    Question("theme-frequencies", "/themes/frequencies", "theme-frequencies-recomputed"),
    Question("claims-by-evidence", "/claims/by-evidence", "claims-by-evidence"),
    Question("mechanism-verdicts", "/verdicts/mechanisms", "mechanism-verdict"),
    Question("theme-verdicts", "/verdicts/themes", "theme-verdict"),
    Question(
        "exercise-mechanism-verdicts", "/verdicts/exercise-mechanisms", "exercise-mechanism-verdict"
    ),
    Question("mediation-explains", "/questions/mediation-explains", "mediation-explains"),
    Question("null-findings", "/questions/null-findings", "null-findings"),
    Question(
        "proposals-outnumber-tests",
        "/questions/proposals-outnumber-tests",
        "proposals-outnumber-tests",
    ),
)
QUESTION = {q.name: q for q in QUESTIONS}
