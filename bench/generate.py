"""Write a deterministic synthetic data root that scales the shipped graph to about N quads.

The output folder holds ``ontology/`` (copied), the shipped ``data/*.ttl|*.trig`` (copied)
and four synthetic files shaped exactly as docs/model.md says:

* ``data/synthetic-curators.ttl``   the software agent the synthetic claims are attributed to
* ``data/synthetic-mechanisms.ttl`` ``id/mechanism/synthetic-000001`` ... spread over the 5 themes
* ``data/synthetic-studies.ttl``    ``id/study/synthetic-2013-000001`` ... (the shapes want a year)
* ``data/synthetic-claims.trig``    one nanopublication per claim (head, assertion, provenance,
  pubinfo), with content-hash IRIs from ``exmech.nanopub.claim_slug``

Each study carries four claims and each synthetic mechanism about 84 (the design anchors'
"provenance of one mechanism" size), so queries keep their shape as the graph grows.
Nothing is random: the same N always writes the same bytes. Labels say "Synthetic", DOIs
use the 10.5555 test prefix and no PMID is invented.

    .venv/bin/python bench/generate.py --quads 17000 --out /tmp/exmech-17k
    .venv/bin/exmech --state-dir /tmp/exmech-17k/state --data-root /tmp/exmech-17k build
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from exmech.nanopub import claim_slug
from exmech.vocab import BASE, EXM

REPO = Path(__file__).resolve().parent.parent
CLAIMS_PER_STUDY = 4
CLAIMS_PER_MECHANISM = 84
THEMES = (
    "neuromuscular",
    "psychosocial",
    "neurophysiological",
    "cardiometabolic",
    "tissue-healing",
)
STATUSES = (
    "MediationTested",
    "MechanismTested",
    "ModeratorTested",
    "OutcomeOnly",
    "Planned",
    "NotMeasured",
    "PooledOutcome",
    "SeldomTested",
    "TestedInCompanionPaper",
)
LOCATIONS = ("abstract", "results", "discussion", "methods (outcomes)")
DATA_SUFFIXES = (".ttl", ".trig", ".nq", ".nt", ".jsonld")
PREFIXES = f"""@prefix bibo: <http://purl.org/ontology/bibo/> .
@prefix claim: <{BASE}/id/claim/> .
@prefix curator: <{BASE}/id/curator/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix exercise: <{BASE}/id/exercise/> .
@prefix exm: <{EXM}> .
@prefix fabio: <http://purl.org/spar/fabio/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix graph: <{BASE}/id/graph/> .
@prefix mechanism: <{BASE}/id/mechanism/> .
@prefix np: <http://www.nanopub.org/nschema#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix study: <{BASE}/id/study/> .
@prefix theme: <{BASE}/id/theme/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

"""
CURATOR = """curator:synthetic-generator a prov:SoftwareAgent ;
    foaf:name "exmech bench synthetic generator" ;
    rdfs:label "exmech bench synthetic generator" ;
    rdfs:comment "bench/generate.py: synthetic benchmark data, never a real study or claim." ;
    prov:actedOnBehalfOf curator:exmech .
"""
CURATOR_QUADS = 5


def study_slug(n: int) -> str:
    """Slug of synthetic study ``n`` (1-based); the shapes require a year after the name.

    >>> study_slug(123)
    'synthetic-2023-000123'
    """
    return f"synthetic-{2000 + n % 25}-{n:06d}"


def mechanism_slug(n: int) -> str:
    """Slug of synthetic mechanism ``n`` (1-based).

    >>> mechanism_slug(7)
    'synthetic-000007'
    """
    return f"synthetic-{n:06d}"


@dataclass(frozen=True)
class Plan:
    """How many synthetic things a data root of about ``target`` quads needs."""

    target: int
    base_quads: int
    studies: int
    mechanisms: int

    @property
    def claims(self) -> int:
        return self.studies * CLAIMS_PER_STUDY


def exercise_types(root: Path = REPO) -> list[str]:
    """Slugs of the shipped exercise types, sorted."""
    prefix = f"{BASE}/id/exercise/"
    data = (root / "data" / "exercise-types.ttl").read_bytes()
    found = {
        q.subject.value[len(prefix) :]
        for q in ox.parse(data, format=ox.RdfFormat.TURTLE)
        if q.predicate.value.endswith("#type") and q.object.value == EXM + "ExerciseType"
    }
    return sorted(found)


def shipped_files(root: Path = REPO) -> list[Path]:
    """ontology/ and data/ files a build loads."""
    return [
        p
        for folder in ("ontology", "data")
        for p in sorted((root / folder).iterdir())
        if p.is_file() and p.suffix in DATA_SUFFIXES
    ]


def count_quads(paths: list[Path]) -> int:
    """Quads in the given RDF files (parsed, not guessed)."""
    formats = {".ttl": ox.RdfFormat.TURTLE, ".trig": ox.RdfFormat.TRIG}
    return sum(
        sum(1 for _ in ox.parse(p.read_bytes(), format=formats.get(p.suffix, ox.RdfFormat.TURTLE)))
        for p in paths
    )


def plan(target: int, base_quads: int) -> Plan:
    """Studies and mechanisms so that base + synthetic quads come close to ``target``."""
    per_study = 14.5 + CLAIMS_PER_STUDY * 15 + CLAIMS_PER_STUDY * 7 / CLAIMS_PER_MECHANISM
    studies = max(1, round((target - base_quads - CURATOR_QUADS) / per_study))
    mechanisms = max(CLAIMS_PER_STUDY, round(studies * CLAIMS_PER_STUDY / CLAIMS_PER_MECHANISM))
    return Plan(target, base_quads, studies, mechanisms)


def _claims(p: Plan, exercises: list[str]) -> Iterator[tuple[int, int, str, str]]:
    """(claim index, study n, exercise slug, mechanism slug) for every synthetic claim."""
    for i in range(p.claims):
        study = i // CLAIMS_PER_STUDY + 1
        mechanism = mechanism_slug(i % p.mechanisms + 1)
        exercise = exercises[(i * 7 + study) % len(exercises)]
        yield i, study, exercise, mechanism


def mechanisms_ttl(p: Plan) -> tuple[str, int]:
    """Turtle of the synthetic mechanisms and its quad count."""
    parts = [PREFIXES]
    for n in range(1, p.mechanisms + 1):
        parts.append(
            f"mechanism:{mechanism_slug(n)} a exm:Mechanism ;\n"
            f'    skos:prefLabel "Synthetic mechanism {n}" ;\n'
            '    skos:definition "A synthetic mechanism written by bench/generate.py for '
            'benchmarks; not a real proposal." ;\n'
            "    skos:inScheme exm:mechanisms ;\n"
            f"    exm:inTheme theme:{THEMES[(n - 1) % len(THEMES)]} ;\n"
            "    exm:listedInReview false ;\n"
            "    exm:themeBasis exm:InferredByCurator .\n\n"
        )
    return "".join(parts), 7 * p.mechanisms


def studies_ttl(p: Plan, exercises: list[str]) -> tuple[str, int]:
    """Turtle of the synthetic studies and its quad count."""
    studied: dict[int, list[str]] = {}
    for _, study, exercise, _ in _claims(p, exercises):
        if exercise not in studied.setdefault(study, []):
            studied[study].append(exercise)
    parts = [PREFIXES]
    quads = 0
    for n in range(1, p.studies + 1):
        doi = f"10.5555/exmech.synthetic.{n:06d}"
        types = ", ".join(f"exercise:{e}" for e in sorted(studied[n]))
        parts.append(
            f"study:{study_slug(n)} a exm:RandomisedControlledTrial ;\n"
            f'    rdfs:label "Synthetic study {n}" ;\n'
            f'    dcterms:title "Synthetic trial {n} (benchmark data, not a real study)" ;\n'
            f'    bibo:doi "{doi}" ;\n'
            f'    fabio:hasPublicationYear "{2000 + n % 25}"^^xsd:gYear ;\n'
            f"    rdfs:seeAlso <https://doi.org/{doi}> ;\n"
            '    rdfs:comment "Synthetic benchmark data written by bench/generate.py." ;\n'
            '    exm:designLabel "RCT" ;\n'
            '    exm:firstAuthor "Synthetic A" ;\n'
            '    exm:journalTitle "Synthetic Journal of Benchmarks" ;\n'
            f"    exm:sampleSize {20 + (n * 37) % 200} ;\n"
            f'    exm:sourceKey "synthetic_{n:06d}" ;\n'
            f"    exm:studiesExerciseType {types} .\n\n"
        )
        quads += 12 + len(studied[n])
    return "".join(parts), quads


def claims_trig(p: Plan, exercises: list[str]) -> tuple[str, int]:
    """TriG of the synthetic claims (four graphs each) and its quad count."""
    parts = [PREFIXES]
    for i, study, exercise, mechanism in _claims(p, exercises):
        assertion = (
            ox.NamedNode(f"{BASE}/id/exercise/{exercise}"),
            ox.NamedNode(f"{EXM}proposedMechanism"),
            ox.NamedNode(f"{BASE}/id/mechanism/{mechanism}"),
        )
        h = claim_slug([assertion], f"{BASE}/id/study/{study_slug(study)}")
        status = STATUSES[i % len(STATUSES)]
        parts.append(
            f"graph:{h}-head {{\n"
            f"    claim:{h} a np:Nanopublication, exm:Claim ;\n"
            f"        np:hasAssertion graph:{h}-assertion ;\n"
            f"        np:hasProvenance graph:{h}-provenance ;\n"
            f"        np:hasPublicationInfo graph:{h}-pubinfo .\n}}\n\n"
            f"graph:{h}-assertion {{\n"
            f"    exercise:{exercise} exm:proposedMechanism mechanism:{mechanism} .\n}}\n\n"
            f"graph:{h}-provenance {{\n"
            f"    graph:{h}-assertion prov:wasDerivedFrom study:{study_slug(study)} ;\n"
            f'        exm:locationInStudy "{LOCATIONS[i % len(LOCATIONS)]}" ;\n'
            f"        exm:mediatorStatus exm:{status} ;\n"
            f'        exm:mediatorStatusNote "synthetic ({status})" ;\n'
            f'        exm:sourceWording "synthetic mechanism cell {i + 1}" .\n}}\n\n'
            f"graph:{h}-pubinfo {{\n"
            f'    claim:{h} dcterms:created "2026-01-01T00:00:00Z"^^xsd:dateTime ;\n'
            "        dcterms:license <https://creativecommons.org/licenses/by/4.0/> ;\n"
            "        prov:wasAttributedTo curator:synthetic-generator ;\n"
            f"        dcterms:conformsTo <{BASE}/shapes/0.1.0> .\n}}\n\n"
        )
    return "".join(parts), 15 * p.claims


def generate(target: int, out: Path, root: Path = REPO) -> tuple[Plan, int]:
    """Write the data root for about ``target`` quads into ``out``; returns (plan, quads)."""
    sources = shipped_files(root)
    p = plan(target, count_quads(sources))
    exercises = exercise_types(root)
    shutil.rmtree(out / "ontology", ignore_errors=True)
    shutil.rmtree(out / "data", ignore_errors=True)
    for path in sources:
        target_dir = out / path.parent.name
        target_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target_dir / path.name)
    total = p.base_quads + CURATOR_QUADS
    (out / "data" / "synthetic-curators.ttl").write_text(PREFIXES + CURATOR, encoding="utf-8")
    for name, (text, quads) in {
        "synthetic-mechanisms.ttl": mechanisms_ttl(p),
        "synthetic-studies.ttl": studies_ttl(p, exercises),
        "synthetic-claims.trig": claims_trig(p, exercises),
    }.items():
        (out / "data" / name).write_text(text, encoding="utf-8")
        total += quads
    return p, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quads", type=int, default=17_000, help="about how many quads (17000)")
    parser.add_argument("--out", type=Path, required=True, help="data root folder to write")
    args = parser.parse_args()
    p, total = generate(args.quads, args.out)
    print(
        f"wrote {args.out}: {total} quads ({p.base_quads} shipped + {p.studies} studies, "
        f"{p.mechanisms} mechanisms, {p.claims} claims)"
    )


if __name__ == "__main__":
    main()
