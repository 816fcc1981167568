"""The SPARQL exmech asks, one question per ``*.rq`` file, loaded by name.

Each file starts with ``# Answers: <the question>``; parameters are variables that callers
bind with substitutions (never by pasting text), listed on a ``# Binds: ?var ...`` line.
A question is read and analysed once per process: its text, form, projected columns and row
capped form are computed when it is first loaded, never per request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from exmech.errors import NotFound
from exmech.querytext import QueryText, analyse, projection, with_row_cap


@dataclass(frozen=True)
class NamedQuery:
    name: str
    text: str
    answers: str
    binds: tuple[str, ...]
    form: str
    columns: tuple[str, ...] = ()  # what a SELECT projects, in order
    info: QueryText | None = field(default=None, repr=False, compare=False)

    def capped(self, cap: int | None) -> str | None:
        """The text with its top-level LIMIT at most ``cap`` (None: no cap), computed once
        per cap.

        >>> load("theme-frequencies").capped(11).rstrip().endswith("LIMIT 11")
        True
        """
        return None if cap is None else _capped(self.name, cap)


def names() -> list[str]:
    """Every query's name, sorted."""
    folder = resources.files(__package__)
    return sorted(p.name[:-3] for p in folder.iterdir() if p.name.endswith(".rq"))


@cache
def load(name: str) -> NamedQuery:
    """The query called ``name``; raises NotFound.

    >>> load("theme-frequencies").form
    'SELECT'
    """
    if not re.fullmatch(r"[a-z0-9-]+", name) or name not in names():
        raise NotFound(f"no query named {name!r}; known: {', '.join(names())}")
    text = resources.files(__package__).joinpath(f"{name}.rq").read_text(encoding="utf-8")
    answers = re.search(r"^# Answers: (.+)$", text, re.MULTILINE)
    binds = re.search(r"^# Binds: (.+)$", text, re.MULTILINE)
    info = analyse(text)
    return NamedQuery(
        name=name,
        text=text,
        answers=answers.group(1).strip() if answers else "",
        binds=tuple(v.lstrip("?$") for v in binds.group(1).split()) if binds else (),
        form=info.form or "SELECT",
        columns=tuple(projection(info.tokens)) if info.form == "SELECT" else (),
        info=info,
    )


@cache
def _capped(name: str, cap: int) -> str:
    info = load(name).info
    assert info is not None
    return with_row_cap(info, cap)
