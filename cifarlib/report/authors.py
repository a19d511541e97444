"""The report's authors and contributions, from the one file a student edits (``book/authors.yml``):
read and checked here, listed on the front page and named on the PDF's title page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..paths import REPO_ROOT

AUTHORS_FILE = REPO_ROOT / "book" / "authors.yml"


@dataclass(frozen=True)
class Author:
    name: str
    contribution: str


def load_authors(path: str | Path = AUTHORS_FILE) -> list[Author]:
    """The authors in ``path``, in order; a ValueError names the file, the entry and the fix."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: the authors file is missing; create it with an 'authors:' list "
                         "of {name, contribution} entries") from None
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err}); fix the file's syntax") from None
    entries = data.get("authors") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a non-empty 'authors:' list of {{name, contribution}} entries")
    authors = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or set(entry) - {"name", "contribution"}:
            raise ValueError(f"{path}: author {i} must be a mapping with only 'name' and 'contribution', got {entry!r}")
        name, contribution = entry.get("name"), entry.get("contribution", "")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{path}: author {i} has no 'name'; add one")
        if not isinstance(contribution, str):
            raise ValueError(f"{path}: author {i} ({name}): 'contribution' must be text, got {contribution!r}")
        authors.append(Author(name.strip(), contribution.strip()))
    return authors


def author_line(authors: list[Author]) -> str:
    """The names for a title page: ``甲、乙``."""
    return "、".join(a.name for a in authors)


def authors_markdown(authors: list[Author]) -> str:
    """The front page's list: one line per author, the name in bold, then the contribution."""
    return "\n".join(f"- **{a.name}**" + (f"：{a.contribution}" if a.contribution else "") for a in authors)
