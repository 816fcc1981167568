"""Row counting and truncation on serialized SELECT results, per format.

The engine serializes far faster than Python could, so exmech lets it write the bytes
(after a top-level LIMIT of max_rows + 1, see querytext.with_row_cap) and then counts and,
rarely, trims the rows in the bytes. Shared by every store backend.
"""

from __future__ import annotations

import csv
import io
import json


def cap_rows(body: bytes, media_type: str, limit: int | None) -> tuple[bytes, int, bool]:
    """(body with at most ``limit`` rows, rows kept, whether rows were dropped).

    >>> cap_rows(b'?a\\n<x>\\n<y>\\n', "text/tab-separated-values", 1)
    (b'?a\\n<x>\\n', 1, True)
    >>> cap_rows(b'{"head":{"vars":[]},"results":{"bindings":[{},{}]}}', "application/sparql-results+json", 5)[1:]
    (2, False)
    """
    kind = media_type.split(";")[0].strip()
    if kind == "application/sparql-results+json":
        data = json.loads(body)
        bindings = data["results"]["bindings"]
        if limit is None or len(bindings) <= limit:
            return body, len(bindings), False
        data["results"]["bindings"] = bindings[:limit]
        return json.dumps(data, separators=(",", ":")).encode(), limit, True
    if kind == "application/sparql-results+xml":
        count = body.count(b"<result>")
        if limit is None or count <= limit:
            return body, count, False
        cut = 0
        for _ in range(limit + 1):
            cut = body.index(b"<result>", cut + (1 if cut else 0))
        return body[:cut] + b"</results></sparql>", limit, True
    if kind == "text/tab-separated-values":
        lines = body.splitlines(keepends=True)
        count = max(len(lines) - 1, 0)
        if limit is None or count <= limit:
            return body, count, False
        return b"".join(lines[: limit + 1]), limit, True
    if kind == "text/csv":
        if b'"' not in body:
            lines = body.split(b"\r\n")
            count = max(len([line for line in lines if line]) - 1, 0)
            if limit is None or count <= limit:
                return body, count, False
            return b"\r\n".join(lines[: limit + 1]) + b"\r\n", limit, True
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
        count = max(len(rows) - 1, 0)
        if limit is None or count <= limit:
            return body, count, False
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\r\n").writerows(rows[: limit + 1])
        return out.getvalue().encode("utf-8"), limit, True
    raise ValueError(f"cannot count rows of {media_type}")
