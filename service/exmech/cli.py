"""The ``exmech`` command: build, validate, query, stats, serve, settings.

Commands are thin: they turn flags into a ``Settings`` and call the same functions the
service uses.
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import click
import pyoxigraph as ox

from exmech import policy, queries
from exmech.errors import BadRequest, ExmechError
from exmech.querytext import Bound
from exmech.settings import Settings
from exmech.store import Answer, Query, Results, Term
from exmech.vocab import PREFIXES

RESULT_TYPES = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    base: Settings = ctx.obj
    return base.replace(**{k: v for k, v in overrides.items() if v is not None})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="exmech", message="%(prog)s %(version)s")
@click.option("--state-dir", type=click.Path(path_type=Path), help="EXMECH_STATE_DIR")
@click.option("--data-root", type=click.Path(path_type=Path), help="EXMECH_DATA_ROOT")
@click.pass_context
def main(ctx: click.Context, state_dir: Path | None, data_root: Path | None) -> None:
    """exmech: why does exercise help chronic low back pain? A knowledge graph with evidence."""
    try:
        ctx.obj = Settings.load(state_dir=state_dir, data_root=data_root)
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc


def _say_where(settings: Settings) -> None:
    """Print the data root and state directory a command works on (stderr)."""
    root, origin = settings.root_origin
    click.echo(f"data root: {root} ({origin})", err=True)
    click.echo(f"state directory: {settings.state_dir}", err=True)


@main.command()
@click.pass_context
def build(ctx: click.Context) -> None:
    """Build the embedded store from ontology/, data/ and the journal.

    Refuses while another process (a running server) writes the state directory.
    """
    from exmech.build import build as run_build
    from exmech.build import sources
    from exmech.store import lock

    settings: Settings = ctx.obj
    _say_where(settings)
    try:
        with lock.hold(settings.state_dir, "exmech build"):  # refuse at once, not midway
            files = sources(settings.root, settings.base_iri)
            total = sum(s.path.stat().st_size for s in files)
            with click.progressbar(
                length=total, label="loading", file=sys.stderr, show_pos=False
            ) as bar:
                report = run_build(settings, on_file=lambda _p, n: bar.update(n))
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"built {report.quads} quads from {report.files} files and "
        f"{report.journal_records} journal records in {report.seconds:.2f} s "
        f"into {settings.state_dir} (dataset {report.dataset_hash[:12]})"
    )


FIELD_OPTIONS = (
    click.option("--study", help="For bare assertion triples: the study (IRI or slug)."),
    click.option("--location", help="For bare assertion triples: where in the study."),
    click.option("--status", help="For bare assertion triples: an exm:MediatorStatus name."),
    click.option("--wording", help="For bare assertion triples: the source's words."),
    click.option("--note", help="For bare assertion triples: a mediator-status note."),
)


def field_options(command: Any) -> Any:
    """The request fields of a submission, as options (the same for validate and submit)."""
    for option in reversed(FIELD_OPTIONS):
        command = option(command)
    return command


def verdict_text(status: int, body: dict[str, Any], dry_run: bool = True) -> str:
    """A curation answer for people: the nanopublications, the report, or the error."""
    from exmech.validation import Finding, Report

    if status in (200, 201):
        lines = []
        for item in body.get("nanopubs", []):
            verb = "exists" if item["existing"] else ("valid" if dry_run else "added")
            trusty = f" signed as {item['trusty']}" if item.get("trusty") else ""
            lines.append(f"{verb} {item['kind']} {item['iri']}{trusty}")
        return "\n".join(lines)
    if results := _results(body):
        return Report.of([Finding(**r) for r in results]).to_text()
    return f"error {status}: {body.get('error', body)}"


def _results(body: dict[str, Any]) -> list[dict[str, Any]]:
    detail = body.get("detail")
    results = detail.get("results", []) if isinstance(detail, dict) else []
    return results if isinstance(results, list) else []


def verdict_exit(status: int, body: dict[str, Any]) -> int:
    """0 accepted, 1 rejected by the checks (422 with a report), 2 any other error."""
    if status in (200, 201):
        return 0
    return 1 if status == 422 and _results(body) else 2


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "turtle"]), default="text")
@click.option(
    "--store",
    "use_store",
    is_flag=True,
    help="Check against the built store (EXMECH_STATE_DIR, journal included) instead of a "
    "fresh build of the shipped files.",
)
@click.option(
    "--data",
    "as_data",
    is_flag=True,
    help="FILES are reference data (what a build loads: ontology/, data/), validated "
    "together against the shapes, not submissions.",
)
@click.option("--token", help="Your curator token (default EXMECH_TOKEN).")
@field_options
@click.pass_context
def validate(
    ctx: click.Context,
    /,
    files: tuple[Path, ...],
    fmt: str,
    use_store: bool,
    as_data: bool,
    token: str | None,
    **fields: str | None,
) -> None:
    """Check each FILE as a submission, exactly as POST /curation/validate does.

    Same checks, verdict and messages as the server's dry run (and `exmech submit
    --dry-run`): each file is one submission (TriG, Turtle, N-Quads, N-Triples, JSON-LD);
    bare assertion triples take --study, --location, --status, --wording. Exit 0 when every
    file conforms, 1 when one is rejected, 2 on other errors (e.g. syntax, with line and
    column). With --data, FILES are reference data instead.
    """
    settings: Settings = ctx.obj
    if as_data:
        _validate_data(ctx, settings, files, fmt, use_store)
        return
    from exmech import rdf
    from exmech.curation import Curation, body_format
    from exmech.errors import UnsupportedMediaType, error_body
    from exmech.validation import Finding, Report

    secret: str | None = token or settings.token
    if secret and not (settings.tokens or settings.tokens_file):
        click.echo(
            "(no curator tokens configured here: checking as an anonymous curator; "
            "attribution is checked when you submit)",
            err=True,
        )
        secret = None
    values = {k: v for k, v in fields.items() if v}
    worst = 0
    with _checking_store(settings, use_store) as store, closing(Curation(settings, store)) as desk:
        for path in files:
            syntax = rdf.format_of(path)
            try:
                if syntax is None:
                    known = ", ".join(sorted(rdf.BY_EXTENSION))
                    raise UnsupportedMediaType(
                        f"{path}: unknown file type {path.suffix!r}; use one of {known}"
                    )
                # the server's own reading of a Content-Type (RDF/XML is refused there too)
                status, body = desk.dry_run(
                    path.read_bytes(),
                    body_format(syntax.media_type),
                    values,
                    f"Bearer {secret}" if secret else None,
                )
            except ExmechError as exc:
                status, body = exc.status, error_body(exc)
            worst = max(worst, verdict_exit(status, body))
            if fmt == "json":
                click.echo(json.dumps({"file": str(path), "status": status, "body": body}))
            elif fmt == "turtle" and status in (200, 422):
                results = body.get("detail", {}).get("results", []) if status == 422 else []
                click.echo(Report.of([Finding(**r) for r in results]).to_turtle())
            else:
                heading = f"== {path}\n"
                click.echo(heading + verdict_text(status, body))
    ctx.exit(worst)


class _checking_store:  # noqa: N801 - used as a context manager, like open()
    """The store a submission is checked against: the configured one (--store) or the
    shipped files built into a temporary state directory (what a fresh server holds)."""

    def __init__(self, settings: Settings, use_store: bool) -> None:
        self.settings, self.use_store = settings, use_store
        self.tmp: Any = None
        self.store: Any = None

    def __enter__(self) -> Any:
        if self.use_store:
            self.store = _open_reader(self.settings)
            return self.store
        import tempfile

        from exmech.build import build as run_build
        from exmech.store.embedded import EmbeddedStore

        self.tmp = tempfile.TemporaryDirectory(prefix="exmech-validate-")
        fresh = self.settings.replace(state_dir=Path(self.tmp.name), store="embedded")
        try:
            run_build(fresh)
        except ExmechError as exc:
            self.tmp.cleanup()
            raise click.ClickException(exc.message) from exc
        self.store = EmbeddedStore(fresh, workers=False)
        return self.store

    def __exit__(self, *exc: object) -> None:
        if self.store is not None:
            self.store.close()
        if self.tmp is not None:
            self.tmp.cleanup()


def _validate_data(
    ctx: click.Context, settings: Settings, files: tuple[Path, ...], fmt: str, use_store: bool
) -> None:
    """``exmech validate --data``: reference files against the shapes, together."""
    from exmech.validation import store_context, validate_files

    reader = _open_reader(settings) if use_store else None
    try:
        context = store_context(reader, settings.root) if reader is not None else None
        report = validate_files(list(files), settings.root, context)
    except ExmechError as exc:
        click.echo(f"error: {exc.message}", err=True)
        ctx.exit(2)
    finally:
        if reader is not None:
            reader.close()
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    elif fmt == "turtle":
        click.echo(report.to_turtle())
    else:
        click.echo(report.to_text())
    ctx.exit(0 if report.conforms else 1)


def _open_reader(settings: Settings) -> Any:
    """The configured store; the embedded one in-process (no worker processes for one query).

    A store that cannot be opened (a damaged journal, a state directory being built by
    another process) is a one-line error naming why, not a traceback.
    """
    from exmech.build import open_built

    try:
        return open_built(settings, workers=False)
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc


def run_query(
    settings: Settings,
    text: str,
    media_type: str | None = None,
    binds: dict[str, Bound] | None = None,
) -> Answer | Results:
    """Run a query for the CLI (in-process; Ctrl-C stops it), values bound by substitution:
    the engine's bytes in ``media_type``, or parsed results (for a table) when it is None."""
    from exmech.querytext import analyse, with_row_cap

    info = analyse(text)
    if info.form is None or info.is_update:
        raise click.ClickException("only SELECT, ASK, CONSTRUCT and DESCRIBE queries can run here")
    try:  # the endpoint's rule here too: no SERVICE call unless the allow-list names it
        policy.check_query(info, settings.service_allowlist)
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc
    rdf = info.form in ("CONSTRUCT", "DESCRIBE")
    store = _open_reader(settings)
    try:
        query = Query(
            text=text,
            form=info.form,
            media_type=media_type or ("text/turtle" if rdf else ""),
            capped_text=with_row_cap(info, settings.max_rows + 1),
            max_rows=settings.max_rows,
            substitutions=tuple(sorted((binds or {}).items())),
        )
        answer: Answer | Results = store.query(query) if query.media_type else store.execute(query)
        return answer
    finally:
        store.close()


def _short(term: Term) -> str:
    if isinstance(term, ox.NamedNode):
        value = term.value
        for prefix, ns in PREFIXES.items():
            if value.startswith(ns) and "/" not in value[len(ns) :]:
                return f"{prefix}:{value[len(ns) :]}"
        return f"<{value}>"
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return term.value if isinstance(term, ox.Literal) else str(term)


def table(results: Results) -> str:
    """A plain-text table of SELECT results (or ASK's boolean), for people."""
    if results.boolean is not None:
        return "true" if results.boolean else "false"
    names = list(results.columns)
    rows = [["" if t is None else _short(t) for t in row] for row in results.rows]
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

    out = [line(names), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    return "\n".join(s.rstrip() for s in out) + f"\n({len(rows)} rows)"


class Refused(click.ClickException):
    """A usage or connection error: exit 2, as the commands' help says."""

    exit_code = 2


def _question_for(name: str) -> Any:
    """The API question answered by the shipped query ``name``, if one is."""
    from exmech.provenance.questions import QUESTIONS

    return next((q for q in QUESTIONS if q.query == name and q.parameter), None)


def list_queries() -> str:
    """One line per shipped query: its name, what it takes, and the question it answers."""
    lines = []
    for name in queries.names():
        named = queries.load(name)
        question = _question_for(name)
        if question is not None:
            takes = f" --bind {question.parameter.name}={question.parameter.example}"
        else:
            takes = "".join(f" --bind {v}=..." for v in named.binds)
        lines.append(f"{name}{takes}\n    {named.answers}")
    return "\n".join(lines)


def find_query(query_or_file: str) -> tuple[str, queries.NamedQuery | None]:
    """The query text and, for a shipped one, its NamedQuery.

    Raises Refused for a name or .rq path that matches nothing, naming the nearest names.
    """
    import difflib

    path = Path(query_or_file)
    if path.suffix == ".rq" and path.is_file():
        return path.read_text(encoding="utf-8"), None
    if query_or_file in queries.names():
        named = queries.load(query_or_file)
        return named.text, named
    looks_like_name = path.suffix == ".rq" or re.fullmatch(r"[\w./-]+", query_or_file)
    if looks_like_name:
        stem = path.name.removesuffix(".rq")
        near = difflib.get_close_matches(stem, queries.names(), n=3, cutoff=0.6)
        hint = f"; nearest: {', '.join(near)}" if near else ""
        raise Refused(
            f"no such question or file: {query_or_file!r}{hint} "
            "(exmech query --list names every shipped question)"
        )
    return query_or_file, None


def parse_binds(
    binds: tuple[str, ...], named: queries.NamedQuery | None, settings: Settings
) -> dict[str, Bound]:
    """``--bind name=value`` pairs as bound values, by the API's rules for a shipped question
    (slug or DOI checked, the resource must exist); elsewhere ``<iri>`` or a plain literal.

    Raises Refused for a malformed pair or a variable the query does not bind; ExmechError
    (BadRequest, NotFound) for a value the API would refuse.
    """
    out: dict[str, Bound] = {}
    question = _question_for(named.name) if named else None
    for pair in binds:
        name, sep, value = pair.partition("=")
        name = name.strip().lstrip("?$")
        if not sep or not name:
            raise Refused(f"--bind {pair!r}: expected name=value, e.g. --bind slug=motor-control")
        if question is not None and name in (question.parameter.name, question.parameter.variable):
            from exmech.provenance.answers import resolve
            from exmech.store.cache import AnswerCache

            store = _open_reader(settings)
            try:
                binding = resolve(
                    AnswerCache(store, 0), question.parameter, value, settings.base_iri
                )
            finally:
                store.close()
            out[question.parameter.variable] = binding
            continue
        if named is not None and name not in named.binds:
            takes = ", ".join(named.binds) or "no values"
            raise Refused(f"{named.name} does not bind {name!r}; it takes {takes}")
        if value.startswith("<") and value.endswith(">"):
            try:
                out[name] = ox.NamedNode(value[1:-1])
            except ValueError as exc:
                raise BadRequest(f"cannot bind ?{name} to {value}: {exc}") from exc
        else:
            out[name] = ox.Literal(value)
    if named is not None and question is not None and question.parameter.variable not in out:
        p = question.parameter
        raise Refused(f"{named.name} needs --bind {p.name}=... (e.g. --bind {p.name}={p.example})")
    return out


@main.command()
@click.argument("query_or_file", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", *RESULT_TYPES]), default="table")
@click.option(
    "--bind",
    "binds",
    multiple=True,
    metavar="NAME=VALUE",
    help="A value for the query: a slug or DOI for a shipped question (as in /api), "
    "else <iri> or text.",
)
@click.option("--list", "show_list", is_flag=True, help="List the shipped questions and exit.")
@click.pass_context
def query(
    ctx: click.Context,
    query_or_file: str | None,
    fmt: str,
    binds: tuple[str, ...],
    show_list: bool,
) -> None:
    """Run SPARQL (text, a .rq file, or the name of a shipped question) on the store.

    Exit 0 with an answer; 1 when the query or a bound value is refused (syntax, timeout,
    a malformed or unknown slug or DOI); 2 for usage errors (no such question or file, a
    --bind that is not NAME=VALUE, names a variable the query does not take, or is missing).
    """
    if show_list:
        click.echo(list_queries())
        return
    if not query_or_file:
        raise click.UsageError("give a query, a .rq file or a shipped question's name (--list)")
    text, named = find_query(query_or_file)
    try:
        bound = parse_binds(binds, named, ctx.obj)
        answer = run_query(ctx.obj, text, None if fmt == "table" else RESULT_TYPES[fmt], bound)
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc
    if isinstance(answer, Results):
        click.echo(table(answer))
    else:
        click.echo(answer.body.decode("utf-8"), nl=False)
    if answer.truncated:
        rows = len(answer) if isinstance(answer, Results) else answer.rows
        click.echo(f"(truncated to {rows} rows: EXMECH_MAX_ROWS)", err=True)


@main.command()
@click.pass_context
def stats(ctx: click.Context) -> None:
    """Counts of reports, studies, trials and claims, per class, claims per theme and by evidence
    level and direction, and how complete the review's list is."""
    for name in (
        "report-counts",
        "class-counts",
        "claims-per-theme",
        "evidence-counts",
        "completeness",
    ):
        click.echo(f"== {queries.load(name).answers}")
        results = run_query(ctx.obj, queries.load(name).text)
        assert isinstance(results, Results)
        click.echo(table(results))
        click.echo()


@main.command("settings")
@click.pass_context
def show_settings(ctx: click.Context) -> None:
    """Every setting: its variable, current value, default and purpose."""
    for env, value, default, help_text in ctx.obj.table():
        click.echo(f"{env}={value}\n    {help_text} (default: {default})")


@main.command()
@click.option("--host", help="EXMECH_HOST (default 127.0.0.1)")
@click.option("--port", type=int, help="EXMECH_PORT (default 8000)")
@click.option("--threads", type=int, help="EXMECH_THREADS: request threads")
@click.option("--query-workers", type=int, help="EXMECH_QUERY_WORKERS: query processes")
@click.option("--query-timeout", type=float, help="EXMECH_QUERY_TIMEOUT in seconds")
@click.pass_context
def serve(ctx: click.Context, /, **flags: Any) -> None:
    """Serve the SPARQL endpoint and pages under a production WSGI server (waitress).

    Takes the state directory's writer lock for its whole life: a second server (or a
    build) on the same state directory refuses at once, naming this one's pid (exit 1).
    Exit 3 when the address cannot be bound (the port is in use: choose another with --port).
    """

    from exmech.server import CANNOT_LISTEN_EXIT, CannotListen, log_to_stderr, run
    from exmech.store import lock
    from exmech.store.journal import Journal

    settings = _settings(ctx, **flags)
    log_to_stderr()

    def take_state() -> None:  # once the port is ours, before the store is opened
        try:
            lock.acquire(settings.state_dir, "exmech serve")  # held until the process ends
            _say_where(settings)
            if settings.store == "embedded":  # damage stops the start; a torn tail is cut
                Journal(settings.state_dir / "journal.log").cut_torn_tail()
        except ExmechError as exc:
            raise click.ClickException(exc.message) from exc

    try:
        run(settings, bound=take_state)
    except CannotListen as exc:
        click.echo(str(exc), err=True)
        ctx.exit(CANNOT_LISTEN_EXIT)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", help="The exmech server (default http://EXMECH_HOST:EXMECH_PORT).")
@click.option("--token", help="Your curator token (default EXMECH_TOKEN).")
@click.option("--dry-run", is_flag=True, help="Only validate (POST /curation/validate).")
@click.option("--supersede", metavar="SLUG", help="Submit FILE as a correction of claim SLUG.")
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    help="json: one line {file, status, body}, the server's answer as it is.",
)
@field_options
@click.option(
    "--direction",
    help="For bare assertion triples: Supports, NoEffect, Contradicts or NotReported (default).",
)
@click.option("--direction-note", help="For bare assertion triples: the source's words for it.")
@click.option(
    "--sign",
    is_flag=True,
    help="Sign FILE's nanopublication here with your key first (Trusty URI + RSA signature).",
)
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key for --sign (default EXMECH_KEY_FILE).",
)
@click.pass_context
def submit(
    ctx: click.Context,
    /,
    file: Path,
    url: str | None,
    token: str | None,
    dry_run: bool,
    supersede: str | None,
    sign: bool,
    key: Path | None,
    output: str,
    **fields: str | None,
) -> None:
    """Send FILE (TriG, Turtle, N-Quads, N-Triples, JSON-LD) to a running server's curation API.

    Exit 0 when accepted (or already there), 1 when the shapes reject it, 2 on other errors.
    """
    from urllib.error import HTTPError, URLError
    from urllib.parse import urlencode
    from urllib.request import Request, urlopen

    from exmech import rdf

    settings: Settings = ctx.obj
    fmt = rdf.format_of(file)
    if fmt is None:
        raise Refused(f"{file}: unknown file type {file.suffix!r}")
    base = (url or f"http://{settings.host}:{settings.port}").rstrip("/")
    route = (
        "/curation/validate"
        if dry_run
        else f"/curation/claims/{supersede}/supersede"
        if supersede
        else "/curation/submissions"
    )
    query = urlencode({k: v for k, v in fields.items() if v})
    body = file.read_bytes()
    if sign:
        try:
            body, fmt = _signed_body(body, fmt, key or settings.key_file), ox.RdfFormat.TRIG
        except ExmechError as exc:
            raise Refused(f"{file}: {exc.message}") from exc
    headers = {"Content-Type": fmt.media_type, "Accept": "application/json"}
    secret = token or settings.token
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    request = Request(
        f"{base}{route}{'?' + query if query else ''}",
        data=body,
        headers=headers,
        method="POST",
    )
    try:
        with urlopen(request, timeout=60) as response:  # noqa: S310 - the user's own server
            status, raw = response.status, response.read()
    except HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (URLError, OSError) as exc:
        raise Refused(f"cannot reach {base}: {getattr(exc, 'reason', exc)}") from exc
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise Refused(
            f"{base} answered {status} but not with exmech's JSON: is it an exmech server?"
        ) from None
    if not isinstance(body, dict):
        raise Refused(f"{base} answered {status} with unexpected JSON: is it an exmech server?")
    if output == "json":
        click.echo(json.dumps({"file": str(file), "status": status, "body": body}))
    else:
        click.echo(verdict_text(status, body, dry_run), err=verdict_exit(status, body) == 2)
    ctx.exit(verdict_exit(status, body))


def _signed_body(data: bytes, fmt: Any, key: Path) -> bytes:
    """One complete nanopublication, signed with the key at ``key``, as TriG."""
    from exmech import nanopub, signing, vocab
    from exmech.errors import BadRequest
    from exmech.validation import parse

    quads = parse(data, fmt, "submission")
    parts = {
        "head": vocab.NP + "hasAssertion",
        "assertion": vocab.NP + "hasAssertion",
        "provenance": vocab.NP + "hasProvenance",
        "pubinfo": vocab.NP + "hasPublicationInfo",
    }
    heads = {nanopub.value(q.subject) for q in quads if q.predicate.value == parts["head"]}
    if len(heads) != 1:
        raise BadRequest(
            "--sign needs exactly one complete nanopublication (head, assertion, provenance, "
            "pubinfo): a signature covers the publication info, which the server writes for "
            "bare triples"
        )
    node = heads.pop()
    graphs = {
        part: str(getattr(q.object, "value", ""))
        for part, predicate in parts.items()
        for q in quads
        if nanopub.value(q.subject) == node and q.predicate.value == predicate
    }
    graphs["head"] = next(
        str(getattr(q.graph_name, "value", ""))
        for q in quads
        if nanopub.value(q.subject) == node and q.predicate.value == parts["head"]
    )
    signed = signing.sign(signing.to_network(quads, node, graphs), signing.read_private_key(key))
    return signed.trig.encode()


@main.command()
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only submissions accepted (with --nanopub: claims created) at or after this UTC time.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="Write here instead of standard output (e.g. data/curated-2026.trig); with "
    "--nanopub, a folder that receives one RA....trig file per claim.",
)
@click.option("--nanopub", is_flag=True, help="Every current claim as a signed Trusty nanopub.")
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key that signs claims without a signed version (default EXMECH_KEY_FILE).",
)
@click.option(
    "--record/--no-record",
    default=True,
    help="Link each newly signed claim and its Trusty IRI in the store (default: yes).",
)
@click.option(
    "--publish-url",
    help="Also POST each signed nanopub (application/trig) to this nanopub server.",
)
@click.pass_context
def export(
    ctx: click.Context,
    since: Any,
    output: Path | None,
    nanopub: bool,
    key: Path | None,
    record: bool,
    publish_url: str | None,
) -> None:
    """Accepted submissions from the journal as TriG, ready to commit into data/; with
    --nanopub, current claims as signed nanopublications for the nanopub network."""
    from datetime import UTC

    from exmech.curation import export_trig
    from exmech.store.journal import Journal

    settings: Settings = ctx.obj
    since = since.replace(tzinfo=UTC) if since else None
    if nanopub:
        if output is None:
            raise click.ClickException("--nanopub writes one file per claim: give -o FOLDER")
        _export_signed(settings, since, output, key, record, publish_url)
        return
    journal = Journal(settings.state_dir / "journal.log")
    try:
        trig = export_trig(journal, since)
    except ExmechError as exc:  # a damaged journal: never export part of it silently
        raise click.ClickException(exc.message) from exc
    if output is None:
        click.echo(trig.decode("utf-8"), nl=False)
    else:
        output.write_bytes(trig)
        click.echo(f"wrote {output}", err=True)


def _export_signed(
    settings: Settings,
    since: Any,
    folder: Path,
    key: Path | None,
    record: bool,
    publish_url: str | None,
) -> None:
    """Sign (or pass on) every current claim, write FOLDER/RA....trig, record, publish."""
    from exmech import signing
    from exmech.curation.export import record_all, signed_claims
    from exmech.errors import StoreUnavailable

    key_path = key or settings.key_file
    store = _open_reader(settings)
    try:
        private = signing.read_private_key(key_path) if key_path.exists() else None
        exports = signed_claims(store, private, since)
        folder.mkdir(parents=True, exist_ok=True)
        for item in exports:
            (folder / f"{item.signed.trusty_hash}.trig").write_text(item.signed.trig)
        signed_now = sum(e.new for e in exports)
        if record and signed_now:
            try:
                record_all(store, exports, settings.base_iri)
            except StoreUnavailable as exc:
                raise click.ClickException(
                    f"the {len(exports)} signed nanopublications are in {folder}, but their "
                    f"links could not be recorded ({exc.message}); a running server holds the "
                    "store: stop it and export again (the same key gives the same Trusty IRIs),"
                    " or pass --no-record"
                ) from exc
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        store.close()
    click.echo(
        f"wrote {len(exports)} signed nanopublications to {folder} ({signed_now} signed now, "
        f"{len(exports) - signed_now} as recorded"
        + (f"; {signed_now} claim <-> Trusty IRI links recorded)" if record else ")"),
        err=True,
    )
    for item in exports if publish_url else []:
        _publish(publish_url or "", item.signed.trig, item.signed.iri)
    for item in exports:  # last: a closed pipe (| head) must not stop the work above
        click.echo(f"{item.claim} {item.signed.iri}")


def _publish(url: str, trig: str, iri: str) -> None:
    """POST one signed nanopub to a nanopub server, as the network's tools do."""
    from urllib.error import HTTPError, URLError
    from urllib.request import Request, urlopen

    request = Request(
        url, data=trig.encode(), headers={"Content-Type": "application/trig"}, method="POST"
    )
    try:
        with urlopen(request, timeout=60) as response:  # noqa: S310 - a URL the user named
            click.echo(f"published {iri} ({response.status})", err=True)
    except HTTPError as exc:
        raise click.ClickException(f"{url} refused {iri}: {exc.code} {exc.reason}") from exc
    except URLError as exc:
        raise click.ClickException(f"cannot reach {url}: {exc.reason}") from exc


@main.group()
def key() -> None:
    """Your RSA key pair for signing nanopublications (the private key stays here)."""


def _key_path(ctx: click.Context, path: Path | None) -> Path:
    settings: Settings = ctx.obj
    return path or settings.key_file


@key.command("create")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the private key goes (default EXMECH_KEY_FILE); the public key goes to FILE.pub.",
)
@click.pass_context
def key_create(ctx: click.Context, path: Path | None) -> None:
    """Make a new 2048-bit RSA key pair (private key mode 600, never overwritten)."""
    from exmech import signing

    target = _key_path(ctx, path)
    try:
        public = signing.write_key_pair(target, signing.new_private_key())
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc
    _show_key(target, public)


@key.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the copy goes (default EXMECH_KEY_FILE); the public key goes to FILE.pub.",
)
@click.pass_context
def key_import(ctx: click.Context, source: Path, path: Path | None) -> None:
    """Copy an existing RSA private key (PEM, PKCS#8 or PKCS#1) to the key file, mode 600."""
    from exmech import signing

    target = _key_path(ctx, path)
    try:
        public = signing.write_key_pair(target, signing.read_private_key(source))
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc
    _show_key(target, public)


@key.command("show")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def key_show(ctx: click.Context, path: Path | None) -> None:
    """Print the public key of the key file (what `exmech token add --public-key` takes)."""
    from exmech import signing

    target = _key_path(ctx, path)
    try:
        public = signing.public_key_of(signing.read_private_key(target))
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc
    _show_key(target, public)


def _show_key(path: Path, public: str) -> None:
    from exmech import signing

    click.echo(public)
    click.echo(
        f"(private key {path}, mode {path.stat().st_mode & 0o777:o}; fingerprint "
        f"{signing.fingerprint(public)}; give the line above to the service's administrator)",
        err=True,
    )


@main.group()
def journal() -> None:
    """Check and repair the journal of accepted submissions (EXMECH_STATE_DIR/journal.log)."""


@journal.command("verify")
@click.pass_context
def journal_verify(ctx: click.Context) -> None:
    """Check every record's checksum; list what is damaged.

    Exit 0 when every record is sound (a torn last record, an append that never finished,
    is reported and cut when the writer next starts), 1 when a record is damaged.
    Read-only: safe while a server runs.
    """
    from exmech.store.journal import Journal

    path = _journal_path(ctx.obj)
    found = Journal(path).scan()
    old = sum(1 for r in found.records if r.version == 1)
    click.echo(f"{path}: {found.size} bytes, {len(found.records)} sound records", nl=False)
    click.echo(f" ({old} in the older v1 format)" if old else "")
    for problem in found.damaged:
        click.echo(f"damaged: {problem.describe()}")
    if found.torn is not None:
        click.echo(f"torn: {found.torn.describe()}; never acknowledged, cut at the next start")
    if found.damaged:
        click.echo(
            "the server and `exmech build` refuse this journal: `exmech journal repair` drops "
            "the damaged records after keeping a backup",
            err=True,
        )
        ctx.exit(1)
    click.echo("ok")


@journal.command("repair")
@click.pass_context
def journal_repair(ctx: click.Context) -> None:
    """Keep a timestamped backup, drop unreadable records, rebuild the store.

    Prints every stretch it drops (record number, byte offset, why, which nanopublications it
    seems to hold). Refuses while a server runs on the state directory.
    """
    from exmech.build import build as run_build
    from exmech.store import lock
    from exmech.store.journal import Journal, named_nanopubs

    settings: Settings = ctx.obj
    path = _journal_path(settings)
    try:
        with lock.hold(settings.state_dir, "exmech journal repair"):
            journal = Journal(path)
            before = journal.scan()
            if not before.damaged and before.torn is None:
                click.echo(f"{path}: nothing to repair ({len(before.records)} sound records)")
                return
            data = path.read_bytes()
            backup, dropped = journal.repair()
            click.echo(f"backup of the journal as it was: {backup}")
            for problem in dropped:
                named = named_nanopubs(data[problem.offset : problem.offset + problem.length])
                held = f"; it names {', '.join(named)}" if named else ""
                click.echo(f"dropped {problem.describe()}{held}")
            click.echo(f"kept {len(before.records)} sound records")
            report = run_build(settings)
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"rebuilt the store: {report.quads} quads, {report.journal_records} journal records")


def _journal_path(settings: Settings) -> Path:
    if settings.store == "remote":
        raise click.ClickException(
            "EXMECH_STORE=remote keeps its journal on the SPARQL server; "
            "`exmech journal` checks the embedded store's journal.log"
        )
    return settings.state_dir / "journal.log"


@main.group()
def token() -> None:
    """Curator tokens for the curation API (stored as salted hashes)."""


@token.command("add")
@click.option("--curator", required=True, help="The curator's IRI (an ORCID is welcome).")
@click.option("--name", required=True, help="The curator's name, as published in pubinfo.")
@click.option(
    "--public-key",
    help="The curator's public key (the line `exmech key show` prints, or a .pub file): "
    "their signed submissions must carry it.",
)
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Tokens file (default EXMECH_TOKENS_FILE).",
)
@click.pass_context
def token_add(
    ctx: click.Context, curator: str, name: str, public_key: str | None, path: Path | None
) -> None:
    """Create a token for CURATOR: prints it once and appends its salted hash to the file."""
    from exmech import tokens

    settings: Settings = ctx.obj
    target = path or settings.tokens_file
    if target is None:
        raise click.ClickException("name the tokens file: --file or EXMECH_TOKENS_FILE")
    try:
        if public_key and Path(public_key).is_file():
            public_key = Path(public_key).read_text(encoding="utf-8")
        secret, entry = tokens.new_entry(curator, name, public_key or "")
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc
    tokens.append(target, entry)
    click.echo(secret)
    click.echo(
        f"(shown once; its hash is in {target}; send it as "
        "'Authorization: Bearer <token>' or EXMECH_TOKEN)",
        err=True,
    )
