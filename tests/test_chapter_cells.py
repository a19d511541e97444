"""The chapters show results, not the code computing them: every code cell hides its source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = sorted(str(p.relative_to(BOOK)) for p in [*BOOK.rglob("*.ipynb"), *BOOK.rglob("*.md")]
                  if p.relative_to(BOOK).parts[0] not in {"_build", "runs"})  # run notebooks show their code
HIDING = {"remove-input", "remove-cell", "hide-input"}


def _code_cells(path: Path) -> list[tuple[str, set[str]]]:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return [("".join(c["source"]).split("\n")[0], set(c["metadata"].get("tags") or []))
                for c in cells if c["cell_type"] == "code"]
    blocks = re.findall(r"```\{code-cell\}[^\n]*\n((?::[^\n]*\n)*)([^\n]*)", path.read_text())
    return [(first, set(re.findall(r"[\w-]+", (re.search(r":tags:\s*\[([^\]]*)\]", opts) or [None, ""])[1])))
            for opts, first in blocks]


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_code_cell_hides_its_source(name: str) -> None:
    shown = [first for first, tags in _code_cells(BOOK / name) if not tags & HIDING]
    assert not shown, f"{name}: code cells that print their source into the book: {shown}"
