"""Pages for people: a study page leads with what a reader wants (read from the data files
independently), the key columns are on screen at 390 px, the evidence map's headers are
whole, and an error anywhere is a styled page with ways back."""

from __future__ import annotations

import kit
import pytest
import rdflib
from conftest import ROOT
from exmech import vocab
from kit import DESKTOP, PHONE_390, SCREENSHOTS, Session

pytestmark = [pytest.mark.browser, pytest.mark.live]
browser, session = kit.browser, kit.session  # the shared fixtures

EXM = rdflib.Namespace(vocab.EXM)
STUDIES = rdflib.Graph().parse(ROOT / "data" / "studies.ttl")


def expected_summary(slug: str) -> dict[str, str]:
    study = rdflib.URIRef(vocab.iri("study", slug))

    def one(predicate: rdflib.URIRef) -> str:
        values = [str(v) for v in STUDIES.objects(study, predicate)]
        assert len(values) <= 1
        return values[0] if values else "not reported"

    size = one(EXM.sampleSize)
    return {
        "Title": one(rdflib.DCTERMS.title),
        "Journal": one(EXM.journalTitle),
        "Year": one(rdflib.URIRef(vocab.FABIO + "hasPublicationYear")),
        "Sample size": size if size == "not reported" else f"{size} participants",
        "First author": one(EXM.firstAuthor),
    }


# One study with every field, one without a sample size, one without a PMID.
@pytest.mark.parametrize("slug", ["aasa-2015", "magalhaes-2018", "natour-2015"])
def test_a_study_page_leads_with_title_journal_year_design_and_size(
    session: Session, slug: str
) -> None:
    session.open(f"/id/study/{slug}")
    page = session.page
    summary = page.locator("#summary")
    assert summary.is_visible()
    # The summary comes before any other section, right under the heading.
    first = page.evaluate("document.querySelector('main section').id")
    assert first == "summary"
    pairs = summary.locator("dl > div").evaluate_all(
        "(divs) => divs.map((d) => [d.querySelector('dt').textContent.trim(),"
        " d.querySelector('dd').textContent.trim()])"
    )
    shown = dict(pairs)
    for name, value in expected_summary(slug).items():
        assert shown[name] == value, name
    assert shown["Design"].startswith("Randomised controlled trial")
    study = rdflib.URIRef(vocab.iri("study", slug))
    doi = STUDIES.value(study, rdflib.URIRef(vocab.BIBO + "doi"))
    pmid = STUDIES.value(study, rdflib.URIRef(vocab.BIBO + "pmid"))
    links = page.locator("#summary .links")
    if doi:
        assert links.locator(f"a[href='https://doi.org/{doi}']").count() == 1
    if pmid:
        assert links.locator(f"a[href='https://pubmed.ncbi.nlm.nih.gov/{pmid}/']").count() == 1
    else:
        assert "PubMed ID not reported" in links.inner_text()
    # The curator's note is still there, below, under its own heading.
    if STUDIES.value(study, rdflib.RDFS.comment):
        assert page.locator("#note h2").inner_text() == "Curator's note"
    session.shot(f"study-{slug}-phone", SCREENSHOTS)


@pytest.mark.parametrize(
    ("path", "table"),
    [
        ("/id/mechanism/motor-control", "#claims"),
        ("/id/study/aasa-2015", "#claims"),
        ("/id/exercise/yoga", "#mechanisms"),
        ("/id/claim/edbee72d3a071e03ea2a", "#history"),
    ],
)
def test_every_column_of_a_table_is_on_screen_at_390px(
    session: Session, path: str, table: str
) -> None:
    session.open(path)
    table = session.page.locator(f"{table} table").first
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    assert headers
    row = table.locator("tbody tr").first
    for cell in row.locator("td").all():
        if not cell.inner_text().strip():
            continue
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE_390["width"]
        assert cell.get_attribute("data-label") in headers
    assert session.page.evaluate("document.documentElement.scrollWidth") <= PHONE_390["width"]


def test_evidence_map_headers_are_whole(session: Session) -> None:
    session.page.set_viewport_size(DESKTOP)
    session.open("/evidence-map")
    headers = session.page.locator("table.map th.ex")
    assert headers.count() > 5
    for header in headers.all():
        link = header.locator("a")
        assert link.inner_text().strip() == link.get_attribute("title")
        clipped = header.evaluate(
            "(th) => th.scrollHeight > th.clientHeight + 1 || th.scrollWidth > th.clientWidth + 1"
        )
        assert not clipped, link.get_attribute("title")


@pytest.mark.parametrize("path", ["/no/such/page", "/id/mechanism/no-such-thing", "/evidence-mapp"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE_390], ids=["desktop", "phone"])
def test_errors_are_styled_pages_with_a_way_back(
    session: Session, path: str, viewport: dict[str, int]
) -> None:
    session.page.set_viewport_size(viewport)
    response = session.page.goto(session.server.url + path)
    assert response is not None and response.status == 404
    page = session.page
    assert page.locator("header.site a.brand").is_visible()
    assert page.locator("h1").inner_text() == "Not found"
    assert page.locator("main form[action='/search'] input[name=q]").is_visible()
    assert page.locator("main a[href='/']").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    session.console[:] = [m for m in session.console if "status of 404" not in m]
    if path == "/no/such/page":
        name = "desktop" if viewport is DESKTOP else "phone"
        session.shot(f"not-found-{name}", SCREENSHOTS)


CLAIMS = rdflib.Dataset(default_union=True)
CLAIMS.parse(ROOT / "data" / "claims.trig", format="trig")
LABELS = rdflib.Graph()
for name in ("studies", "exercise-types", "mechanisms"):
    LABELS.parse(ROOT / "data" / f"{name}.ttl")
ONTOLOGY = rdflib.Graph().parse(ROOT / "ontology" / "exmech.ttl")
NP = rdflib.Namespace(vocab.NP)


def label(iri: rdflib.term.Node) -> str:
    for predicate in (rdflib.SKOS.prefLabel, rdflib.RDFS.label):
        value = LABELS.value(iri, predicate) or ONTOLOGY.value(iri, predicate)
        if value is not None:
            return str(value)
    raise AssertionError(f"no label for {iri}")


def shipped_claims(count: int) -> list[rdflib.URIRef]:
    """Claims spread over the file (retractions left out: their assertion names no exercise)."""
    exercise = vocab.ID + "exercise/"
    claims = sorted(
        claim
        for claim, assertion in CLAIMS.subject_objects(NP.hasAssertion)
        if any(str(s).startswith(exercise) for s in CLAIMS.graph(assertion).subjects())
    )
    return [claims[i * len(claims) // count] for i in range(count)]


@pytest.mark.parametrize("claim", shipped_claims(4), ids=lambda c: str(c)[-8:])
def test_a_claim_page_opens_with_one_plain_sentence(session: Session, claim: rdflib.URIRef) -> None:
    """Read from data/claims.trig with rdflib: the sentence names the study, the exercise and
    the mechanism, and says what the provenance graph says the study did and found (in the
    ontology's own words), or that the claim does not say."""
    assertion = CLAIMS.value(claim, NP.hasAssertion)
    provenance = CLAIMS.value(claim, NP.hasProvenance)
    ((exercise, _, mechanism),) = list(CLAIMS.graph(assertion))
    stated = CLAIMS.graph(provenance)
    study = stated.value(assertion, rdflib.PROV.wasDerivedFrom)
    level = stated.value(assertion, EXM.evidenceLevel)
    direction = stated.value(assertion, EXM.findingDirection)
    session.open("/id/" + str(claim).split("/id/", 1)[1])
    page = session.page
    text = page.locator("#sentence").inner_text()
    assert text.startswith(
        f"In {label(study)}, {label(exercise)} and the mechanism {label(mechanism)}: "
    )
    # It comes before the graphs.
    assert page.evaluate(
        "document.querySelector('#sentence').compareDocumentPosition("
        "document.querySelector('section.graph')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    if level is None:
        assert text.endswith("are not reported in this claim.")
    else:
        did = label(level).split()[0]  # proposed, measured, tested, pooled
        assert f"the study {did} " in text
        found = label(direction) if direction is not None else "not reported"
        assert found.split(" or ")[0] in text  # supports, no effect, contradicts, not reported
    session.shot("claim-sentence-phone", SCREENSHOTS)
