"""Security headers: what every response, and every HTML page, tells the browser.

Pages put no executable inline script anywhere: scripts come from ``/static/`` (the query
editor, YASGUI, included), and the inline ``<script>`` blocks they carry are data
(``application/ld+json``, ``application/json``), which no CSP governs. So ``script-src 'self'``
holds with neither hashes nor ``'unsafe-inline'``, and a ``javascript:`` link never runs even if
one slipped through (templates link only http(s) IRIs). Styles allow ``'unsafe-inline'``: YASGUI
(CodeMirror, DataTables) and the pyLODE ontology page set style attributes; styles cannot run
code. ``connect-src 'self'`` keeps every fetch the query editor makes on this host.
"""

from __future__ import annotations

from collections.abc import MutableMapping

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
EVERY_RESPONSE = {"X-Content-Type-Options": "nosniff"}
HTML_RESPONSE = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


def secure(headers: MutableMapping[str, str], media_type: str | None) -> None:
    """Add the headers every response gets, and for HTML the page policy.

    >>> h: dict[str, str] = {}
    >>> secure(h, "text/html")
    >>> "frame-ancestors 'none'" in h["Content-Security-Policy"], h["X-Content-Type-Options"]
    (True, 'nosniff')
    >>> h = {}
    >>> secure(h, "text/turtle")
    >>> sorted(h)
    ['X-Content-Type-Options']
    """
    for name, value in EVERY_RESPONSE.items():
        headers.setdefault(name, value)
    if media_type in ("text/html", "application/xhtml+xml"):
        for name, value in HTML_RESPONSE.items():
            headers.setdefault(name, value)
