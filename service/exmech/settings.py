"""One settings object, declared as data, fed from defaults < environment (EXMECH_*) < flags.

This is the only module that reads ``os.environ``; everything else receives a ``Settings``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exmech.errors import BadRequest


def _path(value: str) -> Path:
    return Path(value).expanduser()


def absolute(path: Path) -> Path:
    """``path`` made absolute against the working folder now (``..`` folded, links kept).

    Settings hold only absolute paths, so nothing later resolves them against another
    folder (Flask's ``send_file`` takes a relative path as relative to the package).

    >>> absolute(Path("/srv/exmech/../state"))
    PosixPath('/srv/state')
    """
    return Path(os.path.abspath(path.expanduser()))


def find_checkout(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``ontology/exmech.ttl`` and ``data/``.

    That is an exmech checkout (or a copy of its data): run inside one, exmech uses its
    files rather than the copy bundled with the installed package.
    """
    for folder in (start, *start.parents):
        if (folder / "ontology" / "exmech.ttl").is_file() and (folder / "data").is_dir():
            return folder
    return None


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean (true/false), got {value!r}")


def _list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())


@dataclass(frozen=True)
class Field:
    """A setting: its name, how to read it from text, its default and what it is for."""

    name: str
    parse: Callable[[str], Any]
    help: str

    @property
    def default(self) -> Any:
        return DEFAULTS[self.name]

    @property
    def env(self) -> str:
        return "EXMECH_" + self.name.upper()


FIELDS: tuple[Field, ...] = (
    Field("state_dir", _path, "Where the built store, snapshots and the journal live."),
    Field(
        "data_root",
        _path,
        "Folder holding ontology/ and data/ (default: the checkout found from the working "
        "folder, else the copy bundled with the package).",
    ),
    Field("base_iri", str, "Base of the resource IRIs served under /id/."),
    Field(
        "store",
        str,
        "embedded (pyoxigraph), remote (a SPARQL 1.1 server), or sparql+http(s)://host/sparql "
        "(remote, with that query URL).",
    ),
    Field("remote_query_url", str, "Query endpoint of the remote SPARQL server."),
    Field("remote_update_url", str, "Update endpoint of the remote server (default: query URL)."),
    Field("remote_gsp_url", str, "Graph Store Protocol endpoint, used for big graphs in builds."),
    Field("remote_user", str, "User for the remote server's update and GSP endpoints."),
    Field("remote_password", str, "Password for the remote server's update and GSP endpoints."),
    Field("remote_auth", str, "How the remote user authenticates: digest or basic."),
    Field("host", str, "Interface the server listens on."),
    Field("port", int, "Port the server listens on."),
    Field("threads", int, "Request threads of the WSGI server."),
    Field("query_workers", int, "Query worker processes (each can be killed at its deadline)."),
    Field("query_timeout", float, "Seconds a query may run before it is stopped (503)."),
    Field(
        "query_memory_mb",
        int,
        "Private memory a query worker may use, in MiB (RLIMIT_DATA; 0: unlimited); a query "
        "that needs more is stopped (503) and its worker replaced.",
    ),
    Field(
        "query_sandbox",
        str,
        "required: refuse to start unless query workers can be barred from the network "
        "(seccomp); optional: start anyway, with a warning.",
    ),
    Field(
        "fast_workers",
        int,
        "Extra query workers kept for queries not known to be slow, so a cheap query is not "
        "stuck behind heavy ones (0: one lane, first come first served).",
    ),
    Field(
        "fast_seconds",
        float,
        "CPU seconds after which a query on a fast worker moves to the other workers and is "
        "remembered as slow.",
    ),
    Field(
        "query_queue",
        int,
        "Slow queries that may wait for a worker, four times as many others (503 beyond).",
    ),
    Field(
        "client_slow_queries",
        int,
        "Slow queries one client address may have running or waiting at once (429 beyond).",
    ),
    Field("max_rows", int, "Most result rows (or triples) returned; more is truncated."),
    Field("max_query_bytes", int, "Largest accepted query text, in bytes (413 beyond)."),
    Field("max_upload_bytes", int, "Largest accepted submission body, in bytes (413)."),
    Field("service_allowlist", _list, "IRI prefixes SERVICE may call (comma-separated)."),
    Field(
        "cache_entries",
        int,
        "Entries in the answer cache: answers, parsed answers and /sparql replays together "
        "(0 disables it).",
    ),
    Field(
        "cache_mb",
        int,
        "MiB the answer cache may hold: serialized answers by their bytes, parsed ones at "
        "8 times that, replays by their headers (0 disables it).",
    ),
    Field("tokens_file", _path, "File of curator tokens: sha256-salted hashes, one a line."),
    Field("tokens", str, "Curator tokens as in tokens_file, ';'-separated (for containers)."),
    Field("token", str, "Your curator token, sent by `exmech submit` (never printed or logged)."),
    Field("log_requests", _bool, "Log one line per request (method, path, status, time)."),
    Field(
        "aggregates",
        _bool,
        "Answer the questions over every claim (evidence map, theme frequencies, claims by "
        "evidence, claims per theme) from counts kept per generation (store/aggregates.py).",
    ),
    Field("key_file", _path, "Your RSA private key for signing (`exmech key`; mode 600)."),
    Field(
        "require_signatures",
        _bool,
        "Refuse unsigned submissions: only nanopublications signed with the curator's "
        "registered key are accepted.",
    ),
    Field("header_timeout", float, "Seconds a client may take to send a request's headers (408)."),
    Field("body_timeout", float, "Seconds a client may take to send a body or stall a response."),
    Field("idle_timeout", float, "Seconds an idle keep-alive connection stays open."),
    Field("max_connections", int, "Open connections in all; more wait to be accepted."),
    Field(
        "max_connections_per_client",
        int,
        "Open connections per client address; more get 503 (0: no cap; see SECURITY.md).",
    ),
    Field("validation_timeout", float, "Seconds a validation may run before it is stopped (503)."),
    Field("max_dry_run_bytes", int, "Largest dry run (POST /curation/validate) without a token."),
    Field(
        "curation_rate_limit",
        str,
        "POSTs to /curation per client address, e.g. '60 per minute' (429 beyond; 'off').",
    ),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
SECRETS = frozenset({"token", "remote_password"})  # `exmech settings` shows *** for these


@dataclass(frozen=True)
class Settings:
    """Every knob exmech has. Build it with ``Settings.load``."""

    state_dir: Path = Path(".exmech")
    data_root: Path | None = None
    base_iri: str = "https://w3id.org/exmech"
    store: str = "embedded"
    remote_query_url: str = ""
    remote_update_url: str = ""
    remote_gsp_url: str = ""
    remote_user: str = ""
    remote_password: str = ""
    remote_auth: str = "digest"
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 8
    query_workers: int = 2
    query_timeout: float = 10.0
    query_memory_mb: int = 4096
    query_sandbox: str = "required"
    fast_workers: int = 1
    fast_seconds: float = 1.0
    query_queue: int = 4
    client_slow_queries: int = 2
    max_rows: int = 10000
    max_query_bytes: int = 100_000
    max_upload_bytes: int = 5_000_000
    service_allowlist: tuple[str, ...] = ()
    cache_entries: int = 2048
    cache_mb: int = 64
    tokens_file: Path | None = None
    tokens: str = ""
    token: str = ""
    log_requests: bool = True
    aggregates: bool = True
    key_file: Path = Path("~/.nanopub/id_rsa").expanduser()
    require_signatures: bool = False
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 30.0
    max_connections: int = 512
    max_connections_per_client: int = 64
    validation_timeout: float = 20.0
    max_dry_run_bytes: int = 32_768
    curation_rate_limit: str = "60 per minute"

    def __post_init__(self) -> None:
        # Every path absolute from the start, whatever folder the process later works in.
        for name in ("state_dir", "data_root", "tokens_file"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, absolute(Path(value)))

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``EXMECH_*`` variables, then explicit overrides (None is ignored).

        Raises BadRequest naming the variable when a value does not parse.

        >>> Settings.load({"EXMECH_PORT": "9000"}, host="0.0.0.0").port
        9000
        >>> Settings.load({"EXMECH_STORE": "sparql+http://127.0.0.1:8890/sparql"}).remote_query_url
        'http://127.0.0.1:8890/sparql'
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field in FIELDS:
            raw = env.get(field.env)
            if raw is not None and raw != "":
                try:
                    values[field.name] = field.parse(raw)
                except ValueError as exc:
                    raise BadRequest(f"{field.env}={raw!r}: {exc}") from exc
        for name, value in overrides.items():
            if name not in FIELD_BY_NAME:
                raise TypeError(f"unknown setting {name!r}")
            if value is not None:
                values[name] = value
        store = str(values.get("store", ""))
        if store.startswith(("sparql+http://", "sparql+https://")):
            values["store"] = "remote"
            values.setdefault("remote_query_url", store.removeprefix("sparql+"))
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Reject settings that cannot work, with the setting's name in the message."""
        if self.store not in {"embedded", "remote"}:
            raise BadRequest(f"EXMECH_STORE must be 'embedded' or 'remote', not {self.store!r}")
        if self.store == "remote" and not self.remote_query_url:
            raise BadRequest("EXMECH_REMOTE_QUERY_URL is required when EXMECH_STORE=remote")
        if self.remote_auth not in {"digest", "basic"}:
            raise BadRequest(
                f"EXMECH_REMOTE_AUTH must be 'digest' or 'basic', not {self.remote_auth!r}"
            )
        for name in (
            "query_workers",
            "threads",
            "max_rows",
            "max_query_bytes",
            "query_queue",
            "client_slow_queries",
        ):
            if getattr(self, name) < 1:
                raise BadRequest(f"EXMECH_{name.upper()} must be at least 1")
        if self.query_sandbox not in {"required", "optional"}:
            raise BadRequest(
                f"EXMECH_QUERY_SANDBOX must be 'required' or 'optional', not {self.query_sandbox!r}"
            )
        if self.query_memory_mb < 0:
            raise BadRequest("EXMECH_QUERY_MEMORY_MB must be 0 (unlimited) or a number of MiB")
        for name in (
            "query_timeout",
            "header_timeout",
            "body_timeout",
            "idle_timeout",
            "validation_timeout",
        ):
            if getattr(self, name) <= 0:
                raise BadRequest(f"EXMECH_{name.upper()} must be a positive number of seconds")
        if self.max_dry_run_bytes < 1:
            raise BadRequest("EXMECH_MAX_DRY_RUN_BYTES must be at least 1")
        if self.rate_limit is not None:
            from limits import parse_many

            try:
                parse_many(self.curation_rate_limit)
            except ValueError as exc:
                raise BadRequest(
                    f"EXMECH_CURATION_RATE_LIMIT={self.curation_rate_limit!r} is not a rate "
                    "such as '60 per minute' or '10/second'"
                ) from exc
        if self.max_connections < 1 or self.max_connections_per_client < 0:
            raise BadRequest(
                "EXMECH_MAX_CONNECTIONS must be at least 1 and "
                "EXMECH_MAX_CONNECTIONS_PER_CLIENT at least 0"
            )
        if self.fast_workers < 0:
            raise BadRequest("EXMECH_FAST_WORKERS must be at least 0")
        if self.fast_seconds <= 0:
            raise BadRequest("EXMECH_FAST_SECONDS must be a positive number of seconds")
        for name in ("cache_entries", "cache_mb"):
            if getattr(self, name) < 0:
                raise BadRequest(f"EXMECH_{name.upper()} must be 0 (no cache) or more")

    @property
    def rate_limit(self) -> str | None:
        """The curation rate limit, or None when it is switched off ('off' or empty)."""
        rate = self.curation_rate_limit.strip()
        return None if rate.lower() in {"", "off"} else rate

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def root(self) -> Path:
        """Folder with ontology/ and data/ (see ``root_origin``)."""
        return self.root_origin[0]

    @functools.cached_property
    def root_origin(self) -> tuple[Path, str]:
        """The data root and why it is that one, as ``exmech build`` and ``serve`` print it.

        In order: the setting; a checkout found from the working folder (so an installed
        exmech run inside a checkout builds the checkout's edited files, never silently the
        bundled copy); the copy bundled with the package; the source tree of an editable
        install.
        """
        if self.data_root is not None:
            return self.data_root, "EXMECH_DATA_ROOT / --data-root"
        checkout = find_checkout(Path.cwd())
        if checkout is not None:
            return checkout, "the checkout found from the working folder"
        here = Path(__file__).resolve().parent
        bundled = here / "bundled"
        if (bundled / "ontology").is_dir():
            return bundled, "the copy bundled with the installed package"
        return here.parent.parent, "the source tree of this editable install"

    def table(self) -> list[tuple[str, str, str, str]]:
        """(env var, current value, default, help) for every setting, for ``exmech settings``."""
        return [
            (
                f.env,
                "***"
                if f.name in SECRETS and getattr(self, f.name)
                else str(getattr(self, f.name)),
                str(f.default),
                f.help,
            )
            for f in FIELDS
        ]


DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Settings)}
assert set(DEFAULTS) == set(FIELD_BY_NAME), "every Settings field needs a FIELDS entry"
