"""Signed nanopublications with Trusty URIs: export, keys, signed submissions, imports.

The checks that matter are made by the nanopublication network's own toolkit
(``nanopub_sign``, the Python binding of nanopub-rs), called directly here rather than
through exmech, so exmech cannot pass by checking itself. Nothing reaches the internet:
publishing goes to a nanopub server of our own on 127.0.0.1, and signing is also run in a
process without any network.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nanopub_sign
import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner
from conftest import ROOT, Backend, require_binary, select, start_server, stop_server
from exmech import nanopub, signing, tokens, vocab
from exmech.cli import main
from exmech.errors import BadRequest
from exmech.settings import Settings
from exmech.store.embedded import EmbeddedStore
from flask import Flask
from flask.testing import FlaskClient
from test_store import writable  # noqa: F401 - the fixture, for the backend test below

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

COMPLETE = ROOT / "tests" / "data" / "submissions" / "valid" / "complete-claim.trig"
NO_LICENSE = ROOT / "tests" / "data" / "submissions" / "invalid" / "complete-no-license.trig"
ADA_IRI = "https://example.org/curator/ada"
ADA_KEY = signing.new_private_key()
MALLORY_KEY = signing.new_private_key()
ADA_TOKEN, ADA = tokens.new_entry(ADA_IRI, "Ada Example", signing.public_key_of(ADA_KEY))
BO_TOKEN, BO = tokens.new_entry("https://example.org/curator/bo", "Bo Example")  # no key
ALTERNATE = vocab.PROV + "alternateOf"


def check(trig: str) -> dict[str, object]:
    """The toolkit's own verdict: raises when hash or signature fail; returns its info."""
    info: dict[str, object] = nanopub_sign.Nanopub(trig).check().info()
    return info


def current_claims() -> set[str]:
    """Current claims of the shipped files, read with rdflib (not exmech's query)."""
    ds = rdflib.Dataset()
    for path in (ROOT / "data").glob("*.trig"):
        ds.parse(path, format="trig")
    claim = rdflib.URIRef(vocab.EXM + "Claim")
    claims = {str(s) for s, _p, _o, _g in ds.quads((None, rdflib.RDF.type, claim, None))}
    gone = {
        str(o)
        for _s, _p, o, _g in ds.quads((None, rdflib.URIRef(vocab.NPX + "supersedes"), None, None))
    }
    gone |= {
        str(o)
        for _s, _p, o, _g in ds.quads((None, rdflib.URIRef(vocab.NPX + "retracts"), None, None))
    }
    return claims - gone


def quad_set(trig: str) -> set[ox.Quad]:
    return set(ox.parse(trig.encode(), format=ox.RdfFormat.TRIG))


def named(signed_trig: str) -> str:
    """The w3id claim IRI exmech gives a signed nanopublication (signature set aside)."""
    quads = list(ox.parse(signed_trig.encode(), format=ox.RdfFormat.TRIG))
    rest, _signed = signing.split(quads, signing.verify(signed_trig).public_key)
    _renamed, nanopubs, problems = nanopub.name(rest)
    assert not problems and len(nanopubs) == 1
    return nanopubs[0].iri


def sign_file(path: Path, key: str) -> str:
    """FILE's nanopublication signed as `exmech submit --sign` does, for comparisons."""
    from exmech.cli import _signed_body

    return _signed_body(path.read_bytes(), ox.RdfFormat.TRIG, _write_key(key)).decode()


def _write_key(key: str) -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "id_rsa"
    signing.write_key_pair(path, key)
    return path


def on_state(runner: CliRunner, state: Path, *args: str) -> Any:
    """Run ``exmech`` on a private state directory and the checkout's data."""
    return runner.invoke(main, ["--state-dir", str(state), "--data-root", str(ROOT), *args])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> tuple[Path, Path, str]:
    """A private state, a key made with `exmech key create`, and `exmech export --nanopub`."""
    base = tmp_path_factory.mktemp("export")
    state = base / "state"
    shutil.copytree(built_state, state)
    runner = CliRunner()
    made = on_state(runner, state, "key", "create", "--file", str(base / "key" / "id_rsa"))
    assert made.exit_code == 0, made.output
    out = on_state(
        runner,
        state,
        "export",
        "--nanopub",
        "-o",
        str(base / "out"),
        "--key",
        str(base / "key" / "id_rsa"),
    )
    assert out.exit_code == 0, out.output
    return state, base / "out", out.stdout


# --- export ----------------------------------------------------------------------------------


def test_export_signs_every_current_claim_and_the_toolkit_verifies_each(
    exported: tuple[Path, Path, str],
) -> None:
    _state, folder, stdout = exported
    pairs = dict(line.split() for line in stdout.splitlines())
    assert set(pairs) == current_claims()
    files = sorted(folder.glob("*.trig"))
    assert len(files) == len(pairs)
    for path in files:
        trig = path.read_text()
        info = check(trig)  # Trusty hash over all four graphs + RSA signature
        iri = info["uri"]["value"]  # type: ignore[index]
        assert iri.startswith("https://w3id.org/np/RA") and path.stem == info["trusty_hash"]
        assert info["algo"] == "RSA" and info["signature"]
        # Setting the signature aside and naming it as exmech does gives the claim back.
        assert pairs[named(trig)] == iri


def test_tampering_with_one_triple_fails_the_toolkit_check(
    exported: tuple[Path, Path, str],
) -> None:
    _state, folder, _stdout = exported
    trig = sorted(folder.glob("*.trig"))[0].read_text()
    quads = list(ox.parse(trig.encode(), format=ox.RdfFormat.TRIG))
    links = {vocab.EXM + p for p in ("proposed", "supported", "unsupported", "examined")}
    assertion = next(q for q in quads if q.predicate.value in {f"{x}Mechanism" for x in links})
    changed = ox.Quad(
        assertion.subject,
        assertion.predicate,
        ox.NamedNode(vocab.ID + "mechanism/mood"),
        assertion.graph_name,
    )
    tampered = [changed if q == assertion else q for q in quads]
    text = (ox.serialize(tampered, format=ox.RdfFormat.TRIG) or b"").decode()
    with pytest.raises(Exception, match="hash of the nanopublication is different"):
        nanopub_sign.Nanopub(text).check()
    with pytest.raises(signing.SignatureError, match="does not match its content"):
        signing.verify(text)
    # A changed signature literal is caught as well (the hash covers the signature).
    sig = next(q for q in quads if q.predicate.value == signing.SIGNATURE)
    forged = [
        ox.Quad(q.subject, q.predicate, ox.Literal("AAAA" + q.object.value[4:]), q.graph_name)
        if q == sig
        else q
        for q in quads
    ]
    with pytest.raises(signing.SignatureError):
        signing.verify((ox.serialize(forged, format=ox.RdfFormat.TRIG) or b"").decode())


def test_claims_and_trusty_iris_are_linked_both_ways_and_a_second_export_is_unchanged(
    exported: tuple[Path, Path, str], tmp_path: Path, runner: CliRunner
) -> None:
    state, folder, stdout = exported
    pairs = dict(line.split() for line in stdout.splitlines())
    store = EmbeddedStore(Settings(state_dir=state, data_root=ROOT), workers=False)
    try:
        rows = select(store, f"SELECT ?a ?b {{ GRAPH ?g {{ ?a <{ALTERNATE}> ?b }} }}")
    finally:
        store.close()
    links = {(r["a"], r["b"]) for r in rows}
    assert {(c, t) for c, t in pairs.items()} <= links
    assert {(t, c) for c, t in pairs.items()} <= links
    # Without a key, recorded claims are passed on unchanged.
    again = on_state(
        runner,
        state,
        "export",
        "--nanopub",
        "-o",
        str(tmp_path / "again"),
        "--key",
        str(tmp_path / "absent"),
    )
    assert again.exit_code == 0, again.output
    assert again.stdout == stdout
    assert "0 signed now" in again.stderr
    for path in folder.glob("*.trig"):
        assert (tmp_path / "again" / path.name).read_text() == path.read_text()


def test_export_without_a_key_says_how_to_make_one(
    built_state: Path, tmp_path: Path, runner: CliRunner
) -> None:
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    result = on_state(
        runner,
        state,
        "export",
        "--nanopub",
        "-o",
        str(tmp_path / "out"),
        "--key",
        str(tmp_path / "none"),
    )
    assert result.exit_code == 1 and "exmech key create" in result.output


def test_export_since_a_date_only_takes_later_claims(
    exported: tuple[Path, Path, str], tmp_path: Path, runner: CliRunner
) -> None:
    state, _folder, stdout = exported
    result = on_state(
        runner,
        state,
        "export",
        "--nanopub",
        "-o",
        str(tmp_path / "later"),
        "--since",
        "2999-01-01",
    )
    assert (
        result.exit_code == 0 and result.stdout == "" and not list((tmp_path / "later").iterdir())
    )
    assert stdout  # the full export had claims: the date is what left them out


# --- offline ---------------------------------------------------------------------------------

OFFLINE = """
import socket
def refuse(*args, **kwargs):
    raise OSError("network use is forbidden in this test")
socket.socket = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import nanopub_sign
from exmech import signing
trig = open({path!r}).read()
key = signing.new_private_key()
import pyoxigraph as ox
from exmech import vocab
quads = list(ox.parse(trig.encode(), format=ox.RdfFormat.TRIG))
slug = {slug!r}
network = signing.to_network(quads, vocab.iri("claim", slug), vocab.claim_graphs(slug))
signed = signing.sign(network, key)
nanopub_sign.Nanopub(signed.trig).check()
print("signed", signed.iri)
"""


def test_signing_and_checking_work_without_any_network(exported: tuple[Path, Path, str]) -> None:
    """In a network namespace of its own (no interface up) and with Python's sockets
    refused, import, sign and check all succeed: none of them needs the network."""
    unshare = require_binary("unshare", "runs the signer in a process without network")
    _state, _folder, stdout = exported
    slug = stdout.split()[0].rsplit("/", 1)[-1]
    code = OFFLINE.format(path=str(ROOT / "data" / "claims.trig"), slug=slug)
    done = subprocess.run(
        [unshare, "-n", sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "signed https://w3id.org/np/RA" in done.stdout


# --- keys ------------------------------------------------------------------------------------


def test_key_create_writes_a_private_key_only_its_owner_can_read(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = tmp_path / "keys" / "id_rsa"
    old = os.umask(0)  # a careless umask must not widen the private key's mode
    try:
        result = runner.invoke(main, ["key", "create", "--file", str(path)])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = result.stdout.strip()
    assert (tmp_path / "keys" / "id_rsa.pub").read_text().strip() == public
    assert "-----BEGIN PRIVATE KEY-----" in path.read_text()
    assert public not in path.read_text() and "PRIVATE" not in result.stdout
    again = runner.invoke(main, ["key", "create", "--file", str(path)])
    assert again.exit_code == 1 and "never overwrites" in again.output
    shown = runner.invoke(main, ["key", "show", "--file", str(path)])
    assert shown.stdout.strip() == public


def test_key_import_copies_a_pem_key_and_refuses_garbage(tmp_path: Path, runner: CliRunner) -> None:
    source = tmp_path / "mine.pem"
    source.write_text(ADA_KEY)
    result = runner.invoke(
        main, ["key", "import", str(source), "--file", str(tmp_path / "k" / "id_rsa")]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ADA.public_key
    assert stat.S_IMODE((tmp_path / "k" / "id_rsa").stat().st_mode) == 0o600
    (tmp_path / "bad.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
    )
    bad = runner.invoke(
        main, ["key", "import", str(tmp_path / "bad.pem"), "--file", str(tmp_path / "b" / "id_rsa")]
    )
    assert bad.exit_code == 1 and "not a usable RSA private key" in bad.output
    assert not (tmp_path / "b" / "id_rsa").exists()


def test_token_add_records_the_public_key_with_the_curator(
    tmp_path: Path, runner: CliRunner
) -> None:
    pub = tmp_path / "id_rsa.pub"
    pub.write_text(ADA.public_key + "\n")
    tokens_file = tmp_path / "tokens"
    result = runner.invoke(
        main,
        [
            "token",
            "add",
            "--curator",
            "https://orcid.org/0000-0002-1825-0097",
            "--name",
            "Josiah Carberry",
            "--public-key",
            str(pub),
            "--file",
            str(tokens_file),
        ],
    )
    assert result.exit_code == 0, result.output
    (entry,) = tokens.Keyring("", tokens_file).entries()
    assert entry.public_key == ADA.public_key and entry.name == "Josiah Carberry"
    assert tokens.find((entry,), result.stdout.strip()) == entry
    with pytest.raises(BadRequest, match="base64"):
        tokens.new_entry(ADA_IRI, "Ada", "not base64!")
    mistyped = runner.invoke(
        main,
        ["token", "add", "--curator", "https://orcid.org/0000-0002-1825-0098", "--name", "J",
         "--file", str(tokens_file)],
    )  # fmt: skip
    assert mistyped.exit_code == 1 and "check digit should be 7" in mistyped.output
    assert len(tokens.Keyring("", tokens_file).entries()) == 1


# --- signed submissions ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_settings() -> dict[str, object]:
    return {"tokens": f"{ADA.line()};{BO.line()}", "cache_entries": 0}


def post(client: FlaskClient, trig: str, token: str = ADA_TOKEN) -> tuple[int, dict[str, object]]:
    response = client.post(
        "/curation/submissions",
        data=trig.encode(),
        content_type="application/trig",
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status_code, response.get_json()


def test_a_signed_submission_is_stored_with_its_trusty_iri(client: FlaskClient, app: Flask) -> None:
    signed = sign_file(COMPLETE, ADA_KEY)
    trusty = check(signed)["uri"]["value"]  # type: ignore[index]
    status, body = post(client, signed)
    assert status == 201, body
    (item,) = body["nanopubs"]  # type: ignore[misc]
    assert item["trusty"] == trusty and item["iri"].startswith(vocab.ID + "claim/")
    store = app.extensions["exmech"].store
    rows = select(
        store,
        f"SELECT ?c {{ GRAPH ?g {{ ?c <{ALTERNATE}> <{trusty}> . <{trusty}> <{ALTERNATE}> ?c }} }}",
    )
    assert [r["c"] for r in rows] == [item["iri"]]
    # No signature statement is in the claim's own graphs: the signed original is kept whole.
    assert not select(store, f"SELECT ?s WHERE {{ ?s <{signing.SIGNATURE}> ?o }}")
    page = client.get(
        "/id/claim/" + item["iri"].rsplit("/", 1)[-1], headers={"Accept": "text/html"}
    )
    html = page.get_data(as_text=True)
    assert trusty in html and ">valid<" in html and signing.fingerprint(ADA.public_key) in html
    # The same signed nanopublication again: nothing new.
    status, body = post(client, signed)
    assert status == 200 and body["existing"] is True


def test_a_signature_by_another_key_is_refused_naming_both_keys(client: FlaskClient) -> None:
    status, body = post(client, sign_file(COMPLETE, MALLORY_KEY))
    assert status == 422
    assert signing.fingerprint(signing.public_key_of(MALLORY_KEY)) in body["error"]  # type: ignore[operator]
    assert "not with the key registered for your token" in body["error"]  # type: ignore[operator]


def test_an_altered_signed_graph_is_refused(client: FlaskClient) -> None:
    signed = sign_file(COMPLETE, ADA_KEY)
    altered = signed.replace('"abstract"', '"discussion"')
    assert altered != signed
    status, body = post(client, altered)
    assert status == 422 and "does not match its content" in body["error"]  # type: ignore[operator]


def test_a_curator_without_a_registered_key_cannot_submit_signed(client: FlaskClient) -> None:
    status, body = post(client, sign_file(COMPLETE, ADA_KEY), BO_TOKEN)
    assert status == 422 and "no public key is registered" in body["error"]  # type: ignore[operator]


def test_unsigned_submissions_are_refused_only_where_signatures_are_required(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(tokens=ADA.line(), require_signatures=True).test_client()
    status, body = post(client, COMPLETE.read_text())
    assert status == 422 and "EXMECH_REQUIRE_SIGNATURES" in body["error"]  # type: ignore[operator]
    status, body = post(client, sign_file(COMPLETE, ADA_KEY))
    assert status == 201, body


# --- imports of nanopublications made by the network's own tools -----------------------------

NETWORK_MADE = """@prefix this: <http://purl.org/nanopub/temp/np/> .
@prefix sub: <http://purl.org/nanopub/temp/np/> .
@prefix np: <http://www.nanopub.org/nschema#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix exm: <https://w3id.org/exmech/ontology#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
sub:Head {
  this: a np:Nanopublication, exm:Claim ;
    np:hasAssertion sub:assertion ; np:hasProvenance sub:provenance ;
    np:hasPublicationInfo sub:pubinfo .
}
sub:assertion {
  <https://w3id.org/exmech/id/exercise/yoga> exm:proposedMechanism
    <https://w3id.org/exmech/id/mechanism/sleep> .
}
sub:provenance {
  sub:assertion prov:wasDerivedFrom <https://w3id.org/exmech/id/study/hall-2011> ;
    exm:locationInStudy "abstract" ; exm:mediatorStatus exm:NotMeasured ;
    exm:evidenceLevel exm:ProposedAsRationale ; exm:findingDirection exm:NotReported ;
    exm:evidenceKind <http://purl.obolibrary.org/obo/ECO_0000302> ;
    exm:sourceWording "fictional wording for a network-made test nanopublication" .
}
sub:pubinfo {
  this: prov:wasAttributedTo <https://example.org/curator/ada> ;
    dcterms:created "2026-12-02T09:00:00Z"^^xsd:dateTime ;
    LICENSE
    dcterms:conformsTo <https://w3id.org/exmech/shapes/0.2.0> .
  <https://example.org/curator/ada> a prov:Person ; foaf:name "Ada Example" .
}
"""


def network_signed(license_line: str) -> str:
    """Signed by the toolkit directly (as `np sign` would), not through exmech."""
    trig = NETWORK_MADE.replace("LICENSE", license_line)
    return str(
        nanopub_sign.Nanopub(trig).sign(nanopub_sign.NpProfile(ADA_KEY, None, None, None)).rdf()
    )


def test_a_network_made_signed_nanopub_is_checked_kept_and_validated(
    client: FlaskClient, app: Flask
) -> None:
    signed = network_signed("dcterms:license <https://creativecommons.org/licenses/by/4.0/> ;")
    trusty = check(signed)["uri"]["value"]  # type: ignore[index]
    status, body = post(client, signed)
    assert status == 201, body
    (item,) = body["nanopubs"]  # type: ignore[misc]
    assert item["trusty"] == trusty and item["submitted_as"] == trusty
    store = app.extensions["exmech"].store
    rows = select(
        store,
        f"SELECT ?content {{ GRAPH ?g {{ <{trusty}> <{signing.SIGNED_CONTENT}> ?content }} }}",
    )
    (content,) = (r["content"] for r in rows)
    assert quad_set(content) == quad_set(signed)  # kept exactly as signed
    assert check(content)["uri"]["value"] == trusty  # type: ignore[index]
    # The same shapes judge it: a signed nanopub without a licence is still refused.
    status, body = post(client, network_signed(""))
    assert status == 422
    assert any("license" in r["message"].lower() for r in body["detail"]["results"])  # type: ignore[index]


# --- round trip over a live server, and publishing to a nanopub server of our own --------------


class NanopubServer(http.server.ThreadingHTTPServer):
    """A stand-in for a nanopub server on 127.0.0.1: it checks each POSTed TriG with the
    toolkit, as the network's servers do, and keeps those that pass."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.refused = 0
        super().__init__(("127.0.0.1", 0), _NanopubHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"


class _NanopubHandler(http.server.BaseHTTPRequestHandler):
    server: NanopubServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        try:
            assert self.headers["Content-Type"] == "application/trig"
            nanopub_sign.Nanopub(body).check()
            self.server.received.append(body)
            self.send_response(201)
        except Exception:
            self.server.refused += 1
            self.send_response(400)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_signed_submission_round_trip_and_publishing(
    built_state: Path, tmp_path: Path, runner: CliRunner
) -> None:
    """sign locally -> submit -> stored with its Trusty IRI -> exported unchanged -> published."""
    key = _write_key(ADA_KEY)
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    server = start_server(state, tmp_path / "server.log", EXMECH_TOKENS=ADA.line())
    try:
        sent = runner.invoke(
            main,
            [
                "submit",
                str(COMPLETE),
                "--sign",
                "--key",
                str(key),
                "--url",
                server.url,
                "--token",
                ADA_TOKEN,
            ],
        )
        assert sent.exit_code == 0, sent.output
        expected = sign_file(COMPLETE, ADA_KEY)
        trusty = check(expected)["uri"]["value"]  # type: ignore[index]
        assert sent.stdout.strip().endswith(f"signed as {trusty}")
        wrong = runner.invoke(
            main,
            [
                "submit",
                str(COMPLETE),
                "--sign",
                "--key",
                str(_write_key(MALLORY_KEY)),
                "--url",
                server.url,
                "--token",
                ADA_TOKEN,
            ],
        )
        assert wrong.exit_code == 2 and "not with the key registered" in wrong.output
    finally:
        stop_server(server)
    nanopub_server = NanopubServer()
    thread = threading.Thread(target=nanopub_server.serve_forever, daemon=True)
    thread.start()
    try:
        out = on_state(
            runner,
            state,
            "export",
            "--nanopub",
            "--since",
            "2026-12-01",
            "-o",
            str(tmp_path / "out"),
            "--publish-url",
            nanopub_server.url,
        )
    finally:
        nanopub_server.shutdown()
        nanopub_server.server_close()
    assert out.exit_code == 0, out.output
    assert out.stdout.split()[1] == trusty
    exported = (tmp_path / "out" / f"{trusty.rsplit('/', 1)[-1]}.trig").read_text()
    assert quad_set(exported) == quad_set(expected)  # unchanged: every statement, same IRI
    assert nanopub_server.received == [exported] and nanopub_server.refused == 0
    assert json.dumps(out.stderr).count("published") == 1


def test_a_signed_version_survives_every_backend_whole(writable: Backend) -> None:  # noqa: F811
    """The record (a long literal with newlines and quotes) reads back exactly on the
    embedded store and on Virtuoso, and is exported unchanged from either."""
    from datetime import UTC, datetime

    from exmech.curation import Curation
    from exmech.curation.export import signed_claims, signed_versions

    settings = writable.settings.replace(tokens=ADA.line())
    store = writable.open()
    try:
        desk = Curation(settings, store)  # type: ignore[arg-type]
        signed = sign_file(COMPLETE, ADA_KEY)
        quads = list(ox.parse(signed.encode(), format=ox.RdfFormat.TRIG))
        curator = desk.authenticate(f"Bearer {ADA_TOKEN}", required=True)
        outcome = desk.accept(desk.check(quads, curator, sent=True))
        assert outcome.added and outcome.recorded
        claim = outcome.checked.nanopubs[0].iri
        (trusty, content), *more = signed_versions(store, claim).items()  # type: ignore[arg-type]
        assert not more and quad_set(content) == quad_set(signed)
        assert check(content)["uri"]["value"] == trusty  # type: ignore[index]
        since = datetime(2026, 12, 1, tzinfo=UTC)
        (exported,) = signed_claims(store, None, since)  # type: ignore[arg-type]
        assert (exported.claim, exported.signed.iri, exported.new) == (claim, trusty, False)
    finally:
        store.close()  # type: ignore[attr-defined]


def test_export_says_what_it_wrote_when_a_server_holds_the_store(
    built_state: Path, tmp_path: Path, runner: CliRunner
) -> None:
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    holder = EmbeddedStore(Settings(state_dir=state, data_root=ROOT), workers=False)
    try:
        holder.add(b"<https://example.org/x> <https://example.org/p> <https://example.org/o> .\n")
        key = _write_key(ADA_KEY)
        result = on_state(
            runner,
            state,
            "export",
            "--nanopub",
            "-o",
            str(tmp_path / "out"),
            "--key",
            str(key),
        )
    finally:
        holder.close()
    assert result.exit_code == 1
    assert "are in" in result.output and "stop it and export again" in result.output
    assert len(list((tmp_path / "out").glob("RA*.trig"))) == len(current_claims())


def test_the_claim_page_shows_a_changed_record_as_failing(client: FlaskClient, app: Flask) -> None:
    """The page checks the recorded signed version again: a record altered in the store
    (here: one literal of the signed TriG) shows 'fails', not 'valid'."""
    signed = network_signed("dcterms:license <https://creativecommons.org/licenses/by/4.0/> ;")
    changed = signed.replace("fictional wording", "altered wording")
    trusty = check(signed)["uri"]["value"]  # type: ignore[index]
    claim = vocab.iri("claim", "0ddba11000000000beef")
    record = signing.record(claim, signing.Signed(trusty, "", changed), vocab.BASE)
    store = app.extensions["exmech"].store
    store.add(ox.serialize(record, format=ox.RdfFormat.N_QUADS) or b"")
    html = client.get("/id/claim/0ddba11000000000beef", headers={"Accept": "text/html"})
    text = html.get_data(as_text=True)
    assert trusty in text and "fails:" in text and "does not match its content" in text
