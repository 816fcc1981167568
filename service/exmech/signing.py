"""Signed nanopublications with Trusty URIs, made and checked by the network's own toolkit.

Signing and checking go through ``nanopub-sign`` (the Python binding of nanopub-rs, the
library behind the ``np`` command and ``@nanopub/sign``): RSA signatures over the
normalized quads and Trusty URIs of the RA module (a hash over all four graphs, the
signature included). Nothing here reaches the network: the toolkit's ``publish`` and
``fetch`` are never called, and ``exmech export --publish-url`` posts the signed TriG itself.

A claim is signed in the network's form (:func:`to_network`): its IRI and its four graphs
are renamed into the toolkit's temporary namespace, which signing turns into
``https://w3id.org/np/RA...``. A signed nanopublication submitted to exmech is checked
(:func:`verify`), its signature triples are set aside (:func:`split`), and what remains is
named and validated like any other submission; the signed original (all its statements,
as TriG) is kept in a record graph (:func:`record`), linked both ways to the claim with
``prov:alternateOf``, so that it is exported unchanged. Pure apart from the key files.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import textwrap
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import nanopub_sign
import pyoxigraph as ox

from exmech import vocab
from exmech.errors import BadRequest, Unprocessable

TEMP_NS = "http://purl.org/nanopub/temp/np/"  # the toolkit's placeholder, replaced by signing
NETWORK_PARTS = {part: part for part in vocab.GRAPH_PARTS} | {"head": "Head"}  # np's names
SIGNATURE = vocab.NPX + "hasSignature"
SIGNATURE_PREDICATES = frozenset(
    vocab.NPX + p for p in ("hasSignature", "hasPublicKey", "hasAlgorithm", "hasSignatureTarget")
)
ALTERNATE = vocab.PROV + "alternateOf"
SIGNED_CONTENT = vocab.EXM + "signedNanopublication"
_STDOUT = threading.Lock()


class SignatureError(Unprocessable):
    """422: a signed nanopublication that does not check out (the message says why)."""


@dataclass(frozen=True)
class Signed:
    """A checked signed nanopublication: its Trusty IRI, key and the TriG as signed."""

    iri: str
    public_key: str
    trig: str

    @property
    def trusty_hash(self) -> str:
        return self.iri.rsplit("/", 1)[-1]

    def quads(self) -> list[ox.Quad]:
        return list(ox.parse(self.trig.encode(), format=ox.RdfFormat.TRIG))


def fingerprint(public_key: str) -> str:
    """A short, stable name for a public key: SHA-256 of its DER bytes, as OpenSSH shows it.

    >>> fingerprint("AAAA")
    'SHA256:cJ6AyISHokEeHuTfufIqhhSS0gxHZRUMDHlKvXD4FHw'
    """
    digest = hashlib.sha256(base64.b64decode(public_key)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """nanopub-sign's check prints a line on standard output (Rust ``println!``); keep it
    off our output (``exmech export`` writes TriG there). One check at a time, briefly."""
    import sys

    with _STDOUT:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)


# --- keys ----------------------------------------------------------------------------------


def _profile(private_key: str, orcid: str | None = None) -> nanopub_sign.NpProfile:
    try:
        return nanopub_sign.NpProfile(private_key, orcid, None, None)
    except Exception as exc:  # the binding raises bare Exception for every failure
        raise BadRequest(f"not a usable RSA private key (PKCS#8 or PKCS#1 PEM): {exc}") from exc


def new_private_key() -> str:
    """A fresh 2048-bit RSA private key as PKCS#8 PEM (made by the toolkit's ``KeyPair``)."""
    return _pem(nanopub_sign.KeyPair().private)


def _pem(body: str) -> str:
    lines = "\n".join(textwrap.wrap(body, 64))
    return f"-----BEGIN PRIVATE KEY-----\n{lines}\n-----END PRIVATE KEY-----\n"


def public_key_of(private_key: str) -> str:
    """The base64 DER public key that signatures made with ``private_key`` carry.

    Derived by the toolkit itself: it signs a one-statement nanopublication and the public
    key it writes is read back, so exmech and the network agree on the form by construction.
    Raises BadRequest when the key is not a usable RSA private key.
    """
    temp = TEMP_NS
    probe = (
        f"<{temp}Head> {{ <{temp}> a <{vocab.NP}Nanopublication> ; "
        f"<{vocab.NP}hasAssertion> <{temp}assertion> ; <{vocab.NP}hasProvenance> "
        f"<{temp}provenance> ; <{vocab.NP}hasPublicationInfo> <{temp}pubinfo> . }}\n"
        f"<{temp}assertion> {{ <{temp}a> <{temp}b> <{temp}c> . }}\n"
        f"<{temp}provenance> {{ <{temp}assertion> <{temp}b> <{temp}c> . }}\n"
        f'<{temp}pubinfo> {{ <{temp}> <{vocab.DCTERMS}created> "2000-01-01T00:00:00Z" . }}\n'
    )
    try:
        signed = nanopub_sign.Nanopub(probe).sign(_profile(private_key))
    except BadRequest:
        raise
    except Exception as exc:
        raise BadRequest(f"the key cannot sign: {exc}") from exc
    return str(signed.info()["public_key"])


def read_private_key(path: Path) -> str:
    """The private key in ``path``; raises BadRequest when it is missing or not a key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadRequest(f"cannot read the private key {path}: {exc.strerror}") from exc
    _profile(text)
    return text


def write_key_pair(path: Path, private_key: str) -> str:
    """Write ``path`` (private key, mode 600, never overwritten) and ``path.pub`` (the
    public key, one base64 line). Returns the public key; raises BadRequest if either
    file exists or the key is unusable, leaving nothing half-written."""
    public = public_key_of(private_key)
    pub_path = path.with_name(path.name + ".pub")
    for target in (path, pub_path):
        if target.exists():
            raise BadRequest(f"{target} exists: exmech never overwrites a key (move it first)")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask says
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(private_key if private_key.endswith("\n") else private_key + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    pub_path.write_text(public + "\n", encoding="utf-8")
    return public


# --- the network's form --------------------------------------------------------------------


def to_network(quads: Sequence[ox.Quad], node: str, graphs: dict[str, str]) -> str:
    """One nanopublication as TriG in the toolkit's temporary namespace, ready to sign:
    ``node`` becomes the namespace itself and each part graph ``{ns}Head``, ``{ns}assertion``
    and so on (the network's own names). ``graphs`` maps part -> graph IRI."""
    names = {node: TEMP_NS}
    names.update({graphs[part]: TEMP_NS + local for part, local in NETWORK_PARTS.items()})

    def rename(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.DefaultGraph) -> object:
        if isinstance(term, ox.NamedNode) and term.value in names:
            return ox.NamedNode(names[term.value])
        return term

    renamed = [
        ox.Quad(rename(q.subject), q.predicate, rename(q.object), rename(q.graph_name))  # type: ignore[arg-type]
        for q in quads
        if isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value in names
    ]
    return _trig(renamed, {"this": TEMP_NS})


def _trig(quads: Sequence[ox.Quad], prefixes: dict[str, str]) -> str:
    """TriG with the given prefixes and those of exmech's namespaces that it uses."""
    used = {t.value for q in quads for t in q if isinstance(t, ox.NamedNode)}
    for prefix, ns in vocab.PREFIXES.items():
        if any(value.startswith(ns) for value in used):
            prefixes.setdefault(prefix, ns)
    return (ox.serialize(quads, format=ox.RdfFormat.TRIG, prefixes=prefixes) or b"").decode()


def sign(trig: str, private_key: str, orcid: str | None = None) -> Signed:
    """Sign one nanopublication (TriG, temporary or final IRIs) with the toolkit.

    Raises BadRequest when the RDF is not one well-formed nanopublication or the key is bad.
    """
    profile = _profile(
        private_key, orcid if orcid and orcid.startswith("https://orcid.org/") else None
    )
    try:
        signed = nanopub_sign.Nanopub(trig).sign(profile)
    except Exception as exc:
        raise BadRequest(f"cannot sign: {exc}") from exc
    info = signed.info()
    return Signed(str(info["uri"]["value"]), str(info["public_key"]), signed.rdf())


def verify(trig: str) -> Signed:
    """Check a signed nanopublication's Trusty URI and RSA signature with the toolkit.

    Raises SignatureError (422) naming what failed: not one nanopublication, no Trusty URI,
    no signature, a hash that does not match the content, or a signature that does not.
    """
    try:
        np = nanopub_sign.Nanopub(trig)
    except Exception as exc:
        raise SignatureError(f"not one nanopublication the network can read: {exc}") from exc
    info = np.info()
    if not info["trusty_hash"]:
        raise SignatureError(
            f"<{info['uri']['value']}> has no Trusty URI: sign it (exmech submit --sign, or "
            "the np tool) so that its IRI ends with the RA hash of its content"
        )
    if not info["signature"]:
        raise SignatureError(f"<{info['uri']['value']}> carries no npx:hasSignature")
    try:
        with _quiet():
            np.check()
    except Exception as exc:
        reason = str(exc).replace("Error checking: ", "")
        if "hash" in reason:
            reason = (
                "its Trusty URI does not match its content (a statement was changed, added "
                "or removed after signing)"
            )
        elif "verification" in reason.lower() or "signature" in reason.lower():
            reason = "its signature does not verify with the public key it states"
        raise SignatureError(f"<{info['uri']['value']}> fails the check: {reason}") from exc
    return Signed(str(info["uri"]["value"]), str(info["public_key"]), trig)


def is_signed(quads: Sequence[ox.Quad]) -> bool:
    """Whether a submission carries a signature (``npx:hasSignature`` anywhere)."""
    return any(q.predicate.value == SIGNATURE for q in quads)


def split(quads: Sequence[ox.Quad], public_key: str | None) -> tuple[list[ox.Quad], Signed]:
    """Check a signed submission and return its quads without the signature statements.

    ``public_key`` is the curator's registered key: a nanopublication signed with any other
    key (or a curator without one) is refused. Raises SignatureError (422).
    """
    heads = {
        q.subject.value
        for q in quads
        if q.predicate.value == vocab.NP + "hasAssertion" and not isinstance(q.subject, ox.Triple)
    }
    if len(heads) != 1:
        raise SignatureError(
            f"a signed submission holds exactly one nanopublication, not {len(heads)}: "
            "send each signed nanopublication on its own"
        )
    node = next(iter(heads))
    trig = _trig(quads, {"this": node, "sub": node + "/"})
    signed = verify(trig)
    if not public_key:
        raise SignatureError(
            f"<{signed.iri}> is signed, but no public key is registered for your token: "
            "ask the service's administrator to record it (exmech token add --public-key)"
        )
    if signed.public_key != public_key:
        raise SignatureError(
            f"<{signed.iri}> is signed with the key {fingerprint(signed.public_key)}, not "
            f"with the key registered for your token ({fingerprint(public_key)})"
        )
    sig_nodes = {q.subject for q in quads if q.predicate.value == SIGNATURE}
    rest = [
        q
        for q in quads
        if not (q.subject in sig_nodes and q.predicate.value in SIGNATURE_PREDICATES)
    ]
    return rest, signed


def record_graph(claim: str, base: str) -> str:
    """The graph holding a claim's signed versions: ``graph/{slug}-signed``."""
    return vocab.iri("graph", claim.rsplit("/", 1)[-1] + "-signed", base)


def record(claim: str, signed: Signed, base: str) -> list[ox.Quad]:
    """The statements that link a claim and its signed version both ways and keep the
    signed TriG verbatim (so it is exported unchanged)."""
    graph = ox.NamedNode(record_graph(claim, base))
    ours, theirs, alt = ox.NamedNode(claim), ox.NamedNode(signed.iri), ox.NamedNode(ALTERNATE)
    return [
        ox.Quad(ours, alt, theirs, graph),
        ox.Quad(theirs, alt, ours, graph),
        ox.Quad(theirs, ox.NamedNode(SIGNED_CONTENT), ox.Literal(signed.trig), graph),
    ]
