"""The ``exmech`` command: build, validate, query, stats, serve, settings.

Commands are thin: they turn flags into a ``Settings`` and call the same functions the
service uses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from exmech import queries
from exmech.errors import ExmechError
from exmech.settings import Settings
from exmech.store import Query
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
@click.option("--state-dir", type=click.Path(path_type=Path), help="EXMECH_STATE_DIR")
@click.option("--data-root", type=click.Path(path_type=Path), help="EXMECH_DATA_ROOT")
@click.pass_context
def main(ctx: click.Context, state_dir: Path | None, data_root: Path | None) -> None:
    """exmech: why does exercise help chronic low back pain? A knowledge graph with evidence."""
    try:
        ctx.obj = Settings.load(state_dir=state_dir, data_root=data_root)
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc


@main.command()
@click.pass_context
def build(ctx: click.Context) -> None:
    """Build the embedded store from ontology/, data/ and the journal."""
    from exmech.build import build as run_build
    from exmech.build import sources

    settings: Settings = ctx.obj
    files = sources(settings.root, settings.base_iri)
    total = sum(s.path.stat().st_size for s in files)
    try:
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


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "turtle"]), default="text")
@click.pass_context
def validate(ctx: click.Context, files: tuple[Path, ...], fmt: str) -> None:
    """Check FILES (Turtle, TriG, N-Quads, JSON-LD) against the shapes.

    Exit 0 when they conform, 1 when not, 2 when a file does not parse.
    """
    from exmech.validation import ParseError, validate_files

    settings: Settings = ctx.obj
    try:
        report = validate_files(list(files), settings.root)
    except ParseError as exc:
        click.echo(f"error: {exc.message}", err=True)
        ctx.exit(2)
    except ExmechError as exc:
        click.echo(f"error: {exc.message}", err=True)
        ctx.exit(2)
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    elif fmt == "turtle":
        click.echo(report.to_turtle())
    else:
        click.echo(report.to_text())
    ctx.exit(0 if report.conforms else 1)


def _open_reader(settings: Settings) -> Any:
    from exmech.store.embedded import EmbeddedStore

    return EmbeddedStore(settings, workers=False)


def run_query(settings: Settings, text: str, media_type: str | None = None) -> Any:
    """Run a query for the CLI (in-process; Ctrl-C stops it)."""
    from exmech.querytext import analyse, with_row_cap

    info = analyse(text)
    if info.form is None or info.is_update:
        raise click.ClickException("only SELECT, ASK, CONSTRUCT and DESCRIBE queries can run here")
    rdf = info.form in ("CONSTRUCT", "DESCRIBE")
    store = _open_reader(settings)
    try:
        return store.query(
            Query(
                text=text,
                form=info.form,
                media_type=media_type or ("text/turtle" if rdf else RESULT_TYPES["json"]),
                capped_text=with_row_cap(info, settings.max_rows + 1),
                max_rows=settings.max_rows,
            )
        )
    finally:
        store.close()


def _short(term: dict[str, str]) -> str:
    value = term["value"]
    if term["type"] == "uri":
        for prefix, ns in PREFIXES.items():
            if value.startswith(ns) and "/" not in value[len(ns) :]:
                return f"{prefix}:{value[len(ns):]}"
        return f"<{value}>"
    if term["type"] == "bnode":
        return f"_:{value}"
    return value


def table(body: bytes) -> str:
    """A plain-text table of SPARQL JSON results, for people."""
    data = json.loads(body)
    if "boolean" in data:
        return "true" if data["boolean"] else "false"
    names = data["head"]["vars"]
    rows = [[_short(b[n]) if n in b else "" for n in names] for b in data["results"]["bindings"]]
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    out = [line(names), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    return "\n".join(s.rstrip() for s in out) + f"\n({len(rows)} rows)"


@main.command()
@click.argument("query_or_file")
@click.option("--format", "fmt", type=click.Choice(["table", *RESULT_TYPES]), default="table")
@click.pass_context
def query(ctx: click.Context, query_or_file: str, fmt: str) -> None:
    """Run SPARQL (text, a .rq file, or the name of a shipped query) on the store."""
    path = Path(query_or_file)
    if query_or_file.endswith(".rq") and path.exists():
        text = path.read_text(encoding="utf-8")
    elif query_or_file in queries.names():
        text = queries.load(query_or_file).text
    else:
        text = query_or_file
    try:
        answer = run_query(ctx.obj, text, None if fmt == "table" else RESULT_TYPES[fmt])
    except ExmechError as exc:
        raise click.ClickException(exc.message) from exc
    if fmt == "table" and answer.form in ("SELECT", "ASK"):
        click.echo(table(answer.body))
    else:
        click.echo(answer.body.decode("utf-8"), nl=False)
    if answer.truncated:
        click.echo(f"(truncated to {answer.rows} rows: EXMECH_MAX_ROWS)", err=True)


@main.command()
@click.pass_context
def stats(ctx: click.Context) -> None:
    """Counts per class, claims per theme, and how complete the review's list is."""
    for name in ("class-counts", "claims-per-theme", "completeness"):
        click.echo(f"== {queries.load(name).answers}")
        click.echo(table(run_query(ctx.obj, queries.load(name).text).body))
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
def serve(ctx: click.Context, **flags: Any) -> None:
    """Serve the SPARQL endpoint and pages under a production WSGI server (gunicorn)."""
    from exmech.server import run

    run(_settings(ctx, **flags))
