"""What `make test` hands to nbval stays in step with the notebooks it stands for."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import make_nbval_notebooks as tool  # noqa: E402


def test_smoke_copy_is_the_train_notebook_plus_smoke_parameters() -> None:
    committed = nbformat.read(tool.SMOKE, as_version=4)
    expected = tool.smoke_notebook()
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in expected.cells], (
        "tests/nbval/train_smoke.ipynb is out of date: run PYTHONPATH=. python tools/make_nbval_notebooks.py")
    checked = [c for c in committed.cells if tool.is_checked(c)]
    assert len(checked) == 1 and checked[0].outputs and checked[0].execution_count
    assert "278,324 parameters" in checked[0].outputs[0]["text"]  # resnet20 at 100 classes
    unchecked = [c for c in committed.cells if c.cell_type == "code" and not tool.is_checked(c)]
    assert all(not c.outputs and c.execution_count is None for c in unchecked)  # sanitized


def test_the_real_notebook_keeps_the_library_defaults() -> None:
    nb = nbformat.read(REPO / "notebooks" / "train.ipynb", as_version=4)
    source = "\n".join(c.source for c in nb.cells)
    assert "epochs: int = 30" in source and "_write_generated" not in source


def test_checked_chapter_cells_hold_their_outputs() -> None:
    for chapter in tool.CHAPTERS:
        cells = [c for c in nbformat.read(chapter, as_version=4).cells if tool.is_checked(c)]
        assert cells and all(c.outputs and c.execution_count for c in cells), chapter


def test_make_test_runs_nbval_over_them() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "--nbval-lax" in recipe and "$(NBVAL_NOTEBOOKS)" in recipe and "--dist loadscope" in recipe
    listed = re.search(r"^NBVAL_NOTEBOOKS := (.*)$", makefile, re.M).group(1).split()
    assert listed == [str(p.relative_to(REPO)) for p in [tool.SMOKE, *tool.CHAPTERS]]
