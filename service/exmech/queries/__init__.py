"""The SPARQL exmech asks, one question per ``*.rq`` file, loaded by name.

Each file starts with ``# Answers: <the question>``; parameters are variables that callers
bind with substitutions (never by pasting text), listed on a ``# Binds: ?var ...`` line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from exmech.errors import NotFound
from exmech.querytext import analyse


@dataclass(frozen=True)
class NamedQuery:
    name: str
    text: str
    answers: str
    binds: tuple[str, ...]
    form: str


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
    return NamedQuery(
        name=name,
        text=text,
        answers=answers.group(1).strip() if answers else "",
        binds=tuple(v.lstrip("?$") for v in binds.group(1).split()) if binds else (),
        form=analyse(text).form or "SELECT",
    )
