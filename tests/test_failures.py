"""One exception handler for the whole app: every failure keeps its status and a message
naming what was wrong, in the format the request negotiated (failures.py)."""

from __future__ import annotations

import pytest
from exmech import failures
from flask import Flask


def test_the_app_has_one_handler_and_no_blueprint_has_its_own(app: Flask) -> None:
    handlers = {
        (blueprint, code, kind): handler
        for blueprint, by_code in app.error_handler_spec.items()
        for code, by_kind in by_code.items()
        for kind, handler in by_kind.items()
    }
    assert handlers and {blueprint for blueprint, _, _ in handlers} == {None}
    assert set(handlers.values()) == {failures.handle}


@pytest.mark.parametrize(
    ("method", "path", "accept", "status", "media_type", "names"),
    [
        ("GET", "/api/no-such-question", None, 404, "application/json", "no-such-question"),
        ("GET", "/sparql?query=SELEC", None, 400, "text/plain", "syntax"),
        ("DELETE", "/sparql", "text/html", 405, "text/plain", "method is not allowed"),
        ("GET", "/id/study/no-such-study", None, 404, "text/html", "no-such-study"),
        ("GET", "/id/study/no-such-study", "text/turtle", 404, "text/plain", "no-such-study"),
        ("GET", "/no/such/page", None, 404, "text/plain", "not found"),
        ("GET", "/no/such/page", "text/html", 404, "text/html", "not found"),
        ("POST", "/curation/submissions", None, 403, "application/json", "writes are disabled"),
    ],
)
def test_each_area_renders_its_errors_in_the_negotiated_format(
    app: Flask, method: str, path: str, accept: str | None, status: int, media_type: str, names: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = app.test_client().open(path, method=method, headers=headers)
    assert response.status_code == status
    assert response.mimetype == media_type
    assert names in response.get_data(as_text=True).lower()
    assert "Accept" in response.vary
