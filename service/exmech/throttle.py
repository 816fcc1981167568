"""Limits on the curation routes that sit in front of them, not inside: a thin layer.

- A rate limit per client address on every POST under ``/curation``
  (``EXMECH_CURATION_RATE_LIMIT``, Flask-Limiter): 429 with ``Retry-After`` and a message.
  Counts live in memory (``memory://``): right for exmech's one server process; they reset
  on restart and are not shared between servers (put a shared limit at the proxy if you run
  several). Behind a proxy on loopback the address is the one in ``X-Forwarded-For``
  (server.py trusts it from 127.0.0.1 only).
- A size cap for dry runs without a token (``EXMECH_MAX_DRY_RUN_BYTES``): 413 before the
  body is read. Submissions keep ``EXMECH_MAX_UPLOAD_BYTES``.

The time limit on validation itself is in ``validation.validate`` (``bounded``).
"""

from __future__ import annotations

from flask import Blueprint, Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from exmech.errors import PayloadTooLarge
from exmech.settings import Settings


def install(app: Flask, settings: Settings, curation: str = "curation") -> None:
    """Put the rate limit and the dry-run cap in front of the blueprint named ``curation``."""

    @app.before_request
    def _cap_anonymous_dry_runs() -> None:
        if request.blueprint != curation or request.endpoint != f"{curation}.dry_run":
            return
        if "Authorization" in request.headers:
            return  # a curator: EXMECH_MAX_UPLOAD_BYTES applies (and a bad token is a 401)
        cap = settings.max_dry_run_bytes
        if request.content_length is not None and request.content_length > cap:
            raise PayloadTooLarge(
                f"a dry run without a curator token may be at most {cap} bytes "
                f"(EXMECH_MAX_DRY_RUN_BYTES); this one is {request.content_length}"
            )
        request.max_content_length = cap  # a body without a length is cut at the cap too

    rate = settings.rate_limit
    if rate is None:
        return
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri="memory://",
        headers_enabled=True,
        key_prefix="exmech",
    )
    blueprint = app.blueprints[curation]
    assert isinstance(blueprint, Blueprint)  # registered by create_app, never the sansio base
    limiter.limit(rate, methods=["POST"])(blueprint)

    @limiter.request_filter
    def _elsewhere() -> bool:
        """Requests outside the blueprint have no limit: skip resolving limits for them (a
        few per cent of a /sparql miss's time in the server, bench/README.md)."""
        return request.blueprint != curation
