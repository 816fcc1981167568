"""The curation desk: names and validates submissions, then accepts what conforms.

Checking reads context from the store for just the IRIs a submission mentions, so its cost
follows the submission. Accepting journals (fsync) and applies in one transaction. The
desk's questions to the store are shipped queries (``nanopub-exists``, ``resource-types``,
``claim-provenance``), with the IRIs bound, never pasted.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyoxigraph as ox

from exmech import bounded, nanopub, queries, signing, tokens, vocab
from exmech.curation.export import signed_versions
from exmech.curation.submission import NO_FIELDS, Curator, Fields, read_quads
from exmech.curation.wrapping import now_literal, wrap
from exmech.errors import (
    BadRequest,
    ExmechError,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
    error_body,
)
from exmech.nanopub import PARTS, RETRACTS, SUPERSEDES, Named
from exmech.settings import Settings
from exmech.store import Store, execute_named
from exmech.validation import (
    SUBMISSION_CHECK,
    Finding,
    Report,
    finding_order,
    shapes_version,
    store_context,
    validate,
)

ATTRIBUTED = vocab.PROV + "wasAttributedTo"
VALIDATED = vocab.DCTERMS + "conformsTo"
CLAIM_SLUG = re.compile(r"^[0-9a-f]{20}$")
_KINDS = {vocab.EXM + "Claim", vocab.EXM + "Retraction"}
OWN_RESOURCES_CHECK = f"{vocab.SHAPES}#OwnResourcesCheck"
LIFECYCLE_CHECK = f"{vocab.SHAPES}#LifecycleCheck"
RDF_TYPE, FOAF_NAME = vocab.RDF + "type", vocab.FOAF + "name"
# What the publication info may say about the curator it attributes the nanopublication to.
CURATOR_PREDICATES = (RDF_TYPE, FOAF_NAME, vocab.RDFS + "seeAlso")
# Where a submission may say anything about something other than its own nanopublication.
PROPOSE = (
    "New mechanisms, studies, exercise types and themes, and changes to existing ones, are "
    "not submitted through /curation: propose them in a pull request to data/sources/ "
    "(data/README.md, 'Proposing a mechanism, study or exercise type'), then submit claims "
    "that point at them."
)
RULES = {
    "head": "the head graph may only describe the nanopublication itself (its types and graphs)",
    "provenance": "the provenance graph may only describe the assertion graph (its study, "
    "location, mediator status and wording)",
    "pubinfo": "the publication info may only describe the nanopublication and the curator "
    "it is attributed to",
}


@dataclass
class Checked:
    """A submission after naming and validation: the quads to store and the verdict."""

    quads: list[ox.Quad]
    nanopubs: list[Named]
    report: Report
    signed: signing.Signed | None = None  # the checked signed original, kept verbatim

    def quads_of(self, chosen: Iterable[Named], base: str) -> list[ox.Quad]:
        """The quads of the ``chosen`` nanopublications' graphs (to store only new ones)."""
        graphs = {g for n in chosen for g in n.graphs(base)}
        return [q for q in self.quads if nanopub.value(q.graph_name) in graphs]


@dataclass
class Outcome:
    """What a submission did: its nanopublications, which already existed, the generation."""

    checked: Checked
    existing: set[str]
    generation: str | None
    recorded: bool = False  # a signed version was linked to its claim

    @property
    def added(self) -> bool:
        """Whether anything was new (201 rather than 200)."""
        return self.recorded or any(n.iri not in self.existing for n in self.checked.nanopubs)

    def to_json(self) -> dict[str, Any]:
        """The answer body of the write routes."""
        nanopubs = self.checked.nanopubs
        return {
            "ok": True,
            "existing": bool(nanopubs) and not self.added,
            "nanopubs": [
                {
                    "iri": n.iri,
                    "slug": n.slug,
                    "kind": n.kind,
                    "existing": n.iri in self.existing,
                    "submitted_as": n.submitted_as,
                    **({"trusty": self.checked.signed.iri} if self.checked.signed else {}),
                }
                for n in nanopubs
            ],
            "warnings": [asdict(f) for f in self.checked.report.findings],
            "generation": self.generation,
        }


class ValidationFailed(Unprocessable):
    """422: the submission does not conform; carries the report."""

    def __init__(self, report: Report) -> None:
        violations = sum(f.severity == "Violation" for f in report.findings)
        super().__init__(
            f"the submission was rejected: {violations} violation(s); see detail.results",
            detail=report.to_json(),
        )
        self.report = report


def finding(
    focus: str,
    message: str,
    shape: str = SUBMISSION_CHECK,
    path: str | None = None,
    value: str | None = None,
) -> Finding:
    """A violation found by exmech's own submission checks (not a SHACL shape)."""
    return Finding(focus, path, value, message, "Violation", shape)


def _short(iri: str) -> str:
    """``exm:Mechanism`` for an IRI in a known namespace, else ``<iri>``."""
    for prefix, namespace in vocab.PREFIXES.items():
        if iri.startswith(namespace) and "/" not in iri[len(namespace) :]:
            return f"{prefix}:{iri[len(namespace) :]}"
    return f"<{iri}>"


def publication_problems(
    quads: Sequence[ox.Quad],
    nanopubs: Sequence[Named],
    curator: Curator | None,
    shapes_version: str,
) -> list[Finding]:
    """Attribution and shapes version: raises Forbidden when a nanopublication speaks for
    someone other than the curator; returns findings for a stale shapes version."""
    ours = {n.iri for n in nanopubs}
    problems: list[Finding] = []
    for q in quads:
        subject, obj = nanopub.value(q.subject), nanopub.value(q.object)
        if curator is not None:
            claimed = None
            if q.predicate.value == ATTRIBUTED and subject in ours and obj != curator.iri:
                claimed = f"<{subject}> is attributed to <{obj}>"
            elif q.predicate.value == RETRACTS and subject != curator.iri:
                claimed = f"<{subject}> retracts <{obj}>"
            if claimed:
                raise Forbidden(
                    f"{claimed}, but your token publishes as <{curator.iri}>: a curator can "
                    "publish and retract only in their own name"
                )
        if q.predicate.value == VALIDATED and subject in ours and obj != shapes_version:
            problems.append(
                finding(
                    subject,
                    f"dcterms:conformsTo is <{obj}>, but this service validates against "
                    f"<{shapes_version}>: state that version.",
                )
            )
    return problems


def _rows(store: Store, name: str, **iris: str) -> list[dict[str, str]]:
    """The rows of the shipped query ``name`` with ``iris`` bound, as plain values."""
    bound = {k: ox.NamedNode(v) for k, v in iris.items()}
    rows = execute_named(store, queries.load(name), bound).dicts()
    return [
        {k: str(v) if isinstance(v, ox.Triple) else v.value for k, v in r.items()} for r in rows
    ]


class Curation:
    """Validation and acceptance of submissions against one store (one desk per app).

    Checking runs concurrently; acceptance holds a lock from the "does it exist?" check to
    ``Store.add``, so concurrent identical submissions add one nanopublication, not two.
    """

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.base = settings.base_iri
        self.keyring = tokens.Keyring(settings.tokens, settings.tokens_file)
        self.context = store_context(store, settings.root)
        version = shapes_version(settings.root)
        self.shapes_version = version or nanopub.SHAPES_VERSION.value
        self._lock = threading.Lock()
        self.validator = bounded.Pool()  # pyshacl's child process, started on first use
        weakref.finalize(self, self.validator.close)  # a desk nobody closed: when collected

    def close(self) -> None:
        """Stop the validation child process (the desk's only resource beyond the store)."""
        self.validator.close()

    def authenticate(self, authorization: str | None, required: bool) -> Curator | None:
        """The curator a ``Bearer`` token stands for.

        Raises Forbidden when writes are disabled (no tokens configured) and Unauthorized
        for a missing (when required) or unknown token. Messages never contain the token.
        """
        entries = self.keyring.entries()
        if required and not entries:
            raise Forbidden(
                "curation writes are disabled: no curator tokens are configured (set "
                "EXMECH_TOKENS_FILE or EXMECH_TOKENS; `exmech token add` creates a token)"
            )
        scheme, _, token = (authorization or "").partition(" ")
        if not authorization:
            if required:
                raise Unauthorized("send the curator token as 'Authorization: Bearer <token>'")
            return None
        entry = tokens.find(entries, token.strip()) if scheme.lower() == "bearer" else None
        if entry is None:
            raise Unauthorized("the bearer token is not valid", detail={"invalid_token": True})
        return Curator(entry.curator, entry.name or entry.curator, entry.public_key)

    def pubinfo(
        self,
        curator: Curator | None,
        supersedes: Sequence[str] = (),
        comment: str | None = None,
    ) -> nanopub.PubInfo:
        """The publication info the service writes: who (anonymous without a token), now,
        what it supersedes, and the shapes version it validates against."""
        who = curator or Curator(vocab.iri("curator", "anonymous", self.base), "anonymous")
        return nanopub.PubInfo(
            ox.NamedNode(who.iri),
            now_literal(),
            tuple(ox.NamedNode(s) for s in supersedes),
            curator_name=who.name,
            comment=comment,
            shapes=ox.NamedNode(self.shapes_version),
        )

    def check(
        self,
        quads: Sequence[ox.Quad],
        curator: Curator | None,
        fields: Fields = NO_FIELDS,
        supersedes: Sequence[str] = (),
        sent: bool = False,
    ) -> Checked:
        """Name and validate a submission (nothing is written). Raises BadRequest, Forbidden,
        and SignatureError (422) when RDF a curator ``sent`` is signed and does not check out
        (or is unsigned where signatures are required)."""
        if not quads:
            raise BadRequest("the submission holds no triples")
        signed = self._unsign(quads, curator, supersedes) if sent else None
        if signed is not None:
            quads = signed[0]
        checked = self._check(quads, curator, fields, supersedes)
        checked.signed = signed[1] if signed else None
        return checked

    def _unsign(
        self, quads: Sequence[ox.Quad], curator: Curator | None, supersedes: Sequence[str]
    ) -> tuple[list[ox.Quad], signing.Signed] | None:
        """A signed submission checked against the curator's registered key, its signature
        statements set aside; None when unsigned (and unsigned is allowed)."""
        if not signing.is_signed(quads):
            if self.settings.require_signatures:
                raise signing.SignatureError(
                    "this service accepts only signed nanopublications "
                    "(EXMECH_REQUIRE_SIGNATURES): sign with `exmech submit --sign`"
                )
            return None
        if supersedes:
            raise signing.SignatureError(
                "a signed nanopublication states what it supersedes in its own publication "
                "info (npx:supersedes): send it to POST /curation/submissions"
            )
        return signing.split(quads, curator.public_key if curator else None)

    def _check(
        self,
        quads: Sequence[ox.Quad],
        curator: Curator | None,
        fields: Fields,
        supersedes: Sequence[str],
    ) -> Checked:
        problems = [finding(*p) for p in nanopub.blank_node_problems(quads)]
        if not problems and not any(q.predicate.value in PARTS for q in quads):
            if any(not isinstance(q.graph_name, ox.DefaultGraph) for q in quads):
                graph = nanopub.value(quads[0].graph_name) or "urn:exmech:default-graph"
                problems = [
                    finding(
                        graph,
                        "Named graphs without a nanopublication head: send bare assertion "
                        "triples in the default graph, or complete nanopublications (head "
                        "graph with np:hasAssertion, np:hasProvenance, np:hasPublicationInfo).",
                    )
                ]
            else:
                quads = wrap(quads, fields, self.pubinfo(curator, supersedes), self.base)
        elif supersedes:
            quads = [*quads, *self._supersede_quads(quads, supersedes)]
        if problems:
            return Checked(list(quads), [], Report.of(problems))
        named, nanopubs, naming = nanopub.name(quads, self.base)
        problems = [finding(*p) for p in naming]
        problems += publication_problems(named, nanopubs, curator, self.shapes_version)
        if not problems:
            problems = self.own_resource_problems(named, nanopubs)
        if problems:
            return Checked(named, nanopubs, Report.of(problems))
        defines = {g for n in nanopubs for g in (n.iri, *n.graphs(self.base))}
        report = validate(
            named,
            self.settings.root,
            self.context,
            defines=defines,
            timeout=self.settings.validation_timeout,
            submission=True,
            pool=self.validator,
        )
        lifecycle = self.lifecycle_problems(named, nanopubs)
        if lifecycle:
            report = Report.of(sorted([*report.findings, *lifecycle], key=finding_order))
        return Checked(named, nanopubs, report)

    def own_resource_problems(
        self, quads: Sequence[ox.Quad], nanopubs: Sequence[Named]
    ) -> list[Finding]:
        """A submission describes only its own nanopublication: the head only the
        nanopublication, the provenance only the assertion graph, the publication info only
        the nanopublication and its curator (whom it may type, name and link, but not retype
        or rename). The assertion's content is the shapes' business."""
        problems: list[Finding] = []
        for n in nanopubs:
            graphs = vocab.claim_graphs(n.slug, self.base)
            mine = {
                g: [q for q in quads if nanopub.value(q.graph_name) == g] for g in graphs.values()
            }
            curators = {
                nanopub.value(q.object)
                for q in mine[graphs["pubinfo"]]
                if nanopub.value(q.subject) == n.iri and q.predicate.value == ATTRIBUTED
            }
            allowed = {
                "head": {n.iri},
                "provenance": {graphs["assertion"]},
                "pubinfo": {n.iri, *curators},
            }
            for part, subjects in allowed.items():
                foreign: dict[str, set[str]] = {}
                for q in mine[graphs[part]]:
                    if nanopub.value(q.subject) not in subjects:
                        foreign.setdefault(nanopub.value(q.subject), set()).add(q.predicate.value)
                for subject, predicates in sorted(foreign.items()):
                    problems.append(self._foreign(n.iri, part, subject, sorted(predicates)))
            for curator in sorted(curators - {n.iri}):
                said = [q for q in mine[graphs["pubinfo"]] if nanopub.value(q.subject) == curator]
                problems += self._curator_problems(curator, said)
        return problems

    def _foreign(self, node: str, part: str, subject: str, predicates: list[str]) -> Finding:
        types = sorted(r["type"] for r in _rows(self.store, "resource-types", resource=subject))
        existing = (
            f" <{subject}> is an existing {', '.join(_short(t) for t in types)}: a submission "
            "cannot add to or change it."
            if types
            else ""
        )
        stated = ", ".join(_short(p) for p in predicates)
        return finding(
            subject,
            f"<{subject}> is described in the {part} graph of <{node}> ({stated}), but "
            f"{RULES[part]}.{existing} {PROPOSE}",
            OWN_RESOURCES_CHECK,
            path=predicates[0],
        )

    def _curator_problems(self, curator: str, said: Sequence[ox.Quad]) -> list[Finding]:
        problems = []
        for q in said:
            if q.predicate.value not in CURATOR_PREDICATES:
                problems.append(
                    finding(
                        curator,
                        f"The publication info may describe its curator <{curator}> only with "
                        "rdf:type, foaf:name and rdfs:seeAlso: remove "
                        f"{_short(q.predicate.value)}.",
                        OWN_RESOURCES_CHECK,
                        path=q.predicate.value,
                    )
                )
        stored: dict[str, set[str]] = {}
        for row in _rows(self.store, "agent-description", resource=curator):
            stored.setdefault(row["p"], set()).add(row["o"])
        for predicate, verb in ((FOAF_NAME, "named"), (RDF_TYPE, "typed")):
            known = stored.get(predicate, set())
            for q in said:
                said_value = nanopub.value(q.object)
                if q.predicate.value == predicate and known and said_value not in known:
                    shown = ", ".join(
                        f'"{k}"' if predicate == FOAF_NAME else _short(k) for k in sorted(known)
                    )
                    problems.append(
                        finding(
                            curator,
                            f"<{curator}> is already {verb} {shown}: a submission cannot "
                            f"change an existing curator's {_short(predicate)}; state the same "
                            "value or leave it out.",
                            OWN_RESOURCES_CHECK,
                            path=predicate,
                            value=said_value,
                        )
                    )
        return problems

    def lifecycle_problems(
        self, quads: Sequence[ox.Quad], nanopubs: Sequence[Named]
    ) -> list[Finding]:
        """Nothing retracts or supersedes a retracted claim; a correction supersedes the
        current version of a claim, not one that was already superseded."""
        problems = []
        for n in nanopubs:
            graphs = vocab.claim_graphs(n.slug, self.base)
            for q in quads:
                graph, target = nanopub.value(q.graph_name), nanopub.value(q.object)
                if q.predicate.value == RETRACTS and graph == graphs["assertion"]:
                    verb = "retract"
                elif q.predicate.value == SUPERSEDES and graph == graphs["pubinfo"]:
                    verb = "supersede"
                else:
                    continue
                status = _rows(self.store, "claim-status", claim=target)
                retractions = sorted(
                    {r["retraction"] for r in status if "retraction" in r} - {n.iri}
                )
                successors = sorted({r["successor"] for r in status if "successor" in r} - {n.iri})
                if retractions:
                    message = f"<{target}> is already retracted (by <{retractions[0]}>): " + (
                        "there is nothing left to retract."
                        if verb == "retract"
                        else "a retracted claim cannot be corrected; submit the corrected "
                        "claim as a new claim, without npx:supersedes."
                    )
                elif successors and verb == "supersede":
                    current, retracted = self._current(target)
                    message = (
                        f"<{target}> was already superseded by <{successors[0]}>; the current "
                        f"version is <{current}>"
                        + (
                            ", and it is retracted: submit a new claim instead."
                            if retracted
                            else f": supersede that one instead (POST /curation/claims/"
                            f"{current.rsplit('/', 1)[-1]}/supersede)."
                        )
                    )
                else:
                    continue
                path = RETRACTS if verb == "retract" else SUPERSEDES
                problems.append(finding(n.iri, message, LIFECYCLE_CHECK, path=path, value=target))
        return problems

    def _current(self, claim: str) -> tuple[str, bool]:
        """The newest version of ``claim`` along its supersedes chain, and whether it is
        retracted."""
        seen = {claim}
        while True:
            status = _rows(self.store, "claim-status", claim=claim)
            retracted = any("retraction" in r for r in status)
            later = sorted({r["successor"] for r in status if "successor" in r} - seen)
            if not later or len(seen) > 100:
                return claim, retracted
            claim = later[0]
            seen.add(claim)

    @staticmethod
    def _supersede_quads(quads: Sequence[ox.Quad], supersedes: Sequence[str]) -> list[ox.Quad]:
        """``N npx:supersedes old`` in the pubinfo of each complete nanopublication."""
        extra = []
        for q in quads:
            if q.predicate.value == vocab.NP + "hasPublicationInfo":
                assert isinstance(q.object, ox.NamedNode)
                for old in supersedes:
                    extra.append(
                        ox.Quad(q.subject, ox.NamedNode(SUPERSEDES), ox.NamedNode(old), q.object)
                    )
        return extra

    def check_document(
        self,
        data: bytes,
        fmt: ox.RdfFormat,
        values: Mapping[str, str],
        curator: Curator | None,
        supersedes: Sequence[str] = (),
        defaults: Fields = NO_FIELDS,
    ) -> Checked:
        """Parse a submitted document and check it with its request fields (``values``)."""
        fields = Fields.of(values).over(defaults)
        quads = read_quads(data, fmt, "submission")
        return self.check(quads, curator, fields, supersedes, sent=True)

    def dry_run(
        self, data: bytes, fmt: ox.RdfFormat, values: Mapping[str, str], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        """Exactly what ``POST /curation/validate`` answers (status and JSON body), for the
        command line: one validator, whichever door a document comes in by."""
        try:
            checked = self.check_document(
                data, fmt, values, self.authenticate(authorization, required=False)
            )
            if not checked.report.conforms:
                raise ValidationFailed(checked.report)
            return 200, self.dry_run_body(checked)
        except ExmechError as exc:
            return exc.status, error_body(exc)

    def dry_run_body(self, checked: Checked) -> dict[str, Any]:
        """The answer to a dry run that conforms (``POST /curation/validate``, ``exmech
        validate``): the nanopublications it would add, which exist already, the warnings."""
        body = Outcome(checked, self.existing(checked.nanopubs), None).to_json()
        body["conforms"] = True
        return body

    def existing(self, nanopubs: Iterable[Named]) -> set[str]:
        """The IRIs of those nanopublications the store already holds."""
        return {n.iri for n in nanopubs if _rows(self.store, "nanopub-exists", resource=n.iri)}

    def accept(self, checked: Checked) -> Outcome:
        """Store the nanopublications that do not exist yet, in one atomic, durable write.

        Raises ValidationFailed (422) when the report has violations.
        """
        if not checked.report.conforms:
            raise ValidationFailed(checked.report)
        with self._lock:
            existing = self.existing(checked.nanopubs)
            new = [n for n in checked.nanopubs if n.iri not in existing]
            quads = checked.quads_of(new, self.base)
            signed = checked.signed
            if signed and checked.nanopubs:
                claim = checked.nanopubs[0].iri
                if signed.iri not in signed_versions(self.store, claim):
                    quads += signing.record(claim, signed, self.base)
            generation = None
            if quads:
                payload = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
                generation = self.store.add(payload or b"")
        recorded = len(quads) > len(checked.quads_of(new, self.base))
        return Outcome(checked, existing, generation, recorded)

    def claim(self, slug: str) -> str:
        """The IRI of a stored claim or retraction; raises NotFound."""
        node = vocab.iri("claim", slug, self.base) if CLAIM_SLUG.match(slug) else ""
        types = _rows(self.store, "resource-types", resource=node) if node else []
        if not any(row["type"] in _KINDS for row in types):
            raise NotFound(f"no claim {slug!r}: use the 20-hex-digit slug of a stored claim")
        return node

    def defaults(self, node: str) -> Fields:
        """The provenance fields of a stored claim, for a correction that leaves them out."""
        rows = _rows(self.store, "claim-provenance", claim=node)
        return Fields.of(rows[0]) if rows else Fields()
