"""The few exceptions exmech raises, each carrying its HTTP status, and the one error body.

Pure: routes raise these; one handler in ``app`` renders them.
"""

from __future__ import annotations

from typing import Any, Self


class ExmechError(Exception):
    """A failure a client can act on: an HTTP status, a message, optional detail."""

    status = 500
    retry_after: int | None = None  # seconds, sent as Retry-After (429 and 503)

    def __init__(self, message: str, detail: Any = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if status is not None:
            self.status = status

    def with_retry(self, seconds: int) -> Self:
        """The same error, telling the client to come back after ``seconds``."""
        self.retry_after = seconds
        return self


class BadRequest(ExmechError):
    status = 400


class Unauthorized(ExmechError):
    status = 401


class Forbidden(ExmechError):
    status = 403


class NotFound(ExmechError):
    status = 404


class NotAcceptable(ExmechError):
    status = 406


class PayloadTooLarge(ExmechError):
    status = 413


class UnsupportedMediaType(ExmechError):
    status = 415


class Unprocessable(ExmechError):
    status = 422


class TooManyRequests(ExmechError):
    status = 429


class QueryTimeout(ExmechError):
    status = 503


class StoreUnavailable(ExmechError):
    status = 503


class NotBuilt(StoreUnavailable):
    """There is no store to open yet: ``exmech build`` (or an opener that builds) makes it."""


class Busy(ExmechError):
    """Every place to wait is taken; the client should come back after ``retry_after``."""

    status = 503


def error_body(error: ExmechError) -> dict[str, Any]:
    """The only JSON error shape exmech emits.

    >>> error_body(NotFound("no such study"))
    {'ok': False, 'status': 404, 'error': 'no such study'}
    """
    body: dict[str, Any] = {"ok": False, "status": error.status, "error": error.message}
    if error.detail is not None:
        body["detail"] = error.detail
    return body
