"""The one plain sentence that opens a claim page: which study, which exercise and
mechanism, what the study did with the mechanism and which way its result went.

It says only what the claim's graphs state (the evidence level and finding direction of its
provenance graph); where they state nothing, it says so, never more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from exmech import vocab
from exmech.linked_data.rdf import Statement

EXM = vocab.EXM
DID = {
    EXM + "ProposedAsRationale": "proposed it as a reason why the exercise should help",
    EXM + "MeasuredAsOutcome": "measured it as an outcome of the exercise",
    EXM + "TestedAsMediator": "tested whether its change carries the exercise's benefit",
    EXM + "TestedAsModerator": "tested whether it changes how much the exercise helps",
    EXM + "PooledInReview": "pooled it across the trials it reviewed",
}
FOUND = {
    EXM + "Supports": "the result supports the mechanism",
    EXM + "NoEffect": "it found no effect or no association",
    EXM + "Contradicts": "the result contradicts the mechanism",
    EXM + "NotReported": "its result is not reported in the words we read",
}
PROPOSAL_FOUND = "a result is not reported (a proposal is a hypothesis, not evidence for it)"


@dataclass(frozen=True)
class ClaimFacts:
    """What the sentence is made of, as IRIs (empty when the claim does not say)."""

    study: str
    exercise: str
    mechanism: str
    level: str
    direction: str


def facts_of(assertion: Sequence[Statement], provenance: Sequence[Statement]) -> ClaimFacts:
    """The exercise and mechanism of the assertion, the study, level and direction of its
    provenance (the first of each, in the graphs' order)."""
    link = next(
        (
            st
            for st in assertion
            if st.s.value.startswith(vocab.ID + "exercise/")
            and st.o.value.startswith(vocab.ID + "mechanism/")
        ),
        None,
    )

    def value(predicate: str) -> str:
        return next((st.o.value for st in provenance if st.p.value == predicate), "")

    return ClaimFacts(
        study=value(vocab.PROV + "wasDerivedFrom"),
        exercise=link.s.value if link else "",
        mechanism=link.o.value if link else "",
        level=value(EXM + "evidenceLevel"),
        direction=value(EXM + "findingDirection"),
    )


def sentence(facts: ClaimFacts, names: Mapping[str, str]) -> str:
    """One plain sentence; "not reported" for whatever the claim does not state.

    >>> n = {"s": "Aasa 2015", "e": "Pilates", "m": "Motor control"}
    >>> print(sentence(ClaimFacts("s", "e", "m", EXM + "TestedAsMediator", EXM + "NoEffect"), n))
    ... # doctest: +NORMALIZE_WHITESPACE
    In Aasa 2015, Pilates and the mechanism Motor control: the study tested whether its change
    carries the exercise's benefit, and it found no effect or no association.
    >>> print(sentence(ClaimFacts("s", "e", "m", EXM + "ProposedAsRationale", ""), n))
    ... # doctest: +NORMALIZE_WHITESPACE
    In Aasa 2015, Pilates and the mechanism Motor control: the study proposed it as a reason
    why the exercise should help, and a result is not reported (a proposal is a hypothesis, not
    evidence for it).
    >>> print(sentence(ClaimFacts("s", "e", "m", "", ""), n))  # doctest: +NORMALIZE_WHITESPACE
    In Aasa 2015, Pilates and the mechanism Motor control: what the study did with the
    mechanism, and what it found, are not reported in this claim.
    """
    study = names.get(facts.study, facts.study) or "a study not reported"
    exercise = names.get(facts.exercise, facts.exercise) or "an exercise type not reported"
    mechanism = names.get(facts.mechanism, facts.mechanism) or "not reported"
    head = f"In {study}, {exercise} and the mechanism {mechanism}: "
    did = DID.get(facts.level)
    if did is None:
        return head + (
            "what the study did with the mechanism, and what it found, "
            "are not reported in this claim."
        )
    if facts.level == EXM + "ProposedAsRationale" and facts.direction in ("", EXM + "NotReported"):
        found = PROPOSAL_FOUND
    else:
        found = FOUND.get(facts.direction, "which way its result went is not reported")
    return f"{head}the study {did}, and {found}."
