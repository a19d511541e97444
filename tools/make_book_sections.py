"""Regenerate the parts of the book that enumerate a table of the code.

* ``_toc.yml``: the method pages under ``methods/index``, one per entry of the method table
  (``cifarlib.models.methods.METHODS``, its ``page`` field), in the table's order;
* ``book/ablations.ipynb``: one section per ablation of the study (``cifarlib.report.ablations.
  STUDY_ABLATIONS``): its title, its ``text`` paragraph, the cell that shows its table and the
  figure with its caption, between the chapter's opening cells and its closing ones.

``make book`` runs it before building; ``tests/test_book_sections.py`` fails when a file is out
of date. Usage: ``python tools/make_book_sections.py [--check]``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import nbformat  # noqa: E402

from cifarlib.models import methods  # noqa: E402
from cifarlib.report import ablations  # noqa: E402
from cifarlib.report.ablations import Ablation  # noqa: E402

TOC = REPO / "_toc.yml"
ABLATIONS = REPO / "book" / "ablations.ipynb"
METHOD_SECTIONS = re.compile(r"(      - file: methods/index\n        sections:\n)((?:          - file: methods/\S+\n)+)")
FIGURE_CAPTION = ("：各对照设置与参考的 top-1 之差。粗线为主要检验（区组模型；种子不全时为按种子配对的 t）的 95% 区间"
                  "（实心点：区间不含 0；空心点：跨过 0 或无法计算），细橙线为测试图像 bootstrap 的 95% 区间；"
                  "点上方的数字是差值（百分点），纵轴括号内为种子数。")
GENERATED = "generated"  # the cell metadata key marking a generated ablation cell


def toc_text(toc: str) -> str:
    """``toc`` with the method pages listed from the method table."""
    match = METHOD_SECTIONS.search(toc)
    if match is None:
        raise ValueError(f"{TOC.name}: no 'file: methods/index' entry with method 'sections' to regenerate")
    sections = "".join(f"          - file: {m.page}\n" for m in methods.METHODS)
    return toc[: match.start(2)] + sections + toc[match.end(2):]


def ablation_cells(ablation: Ablation) -> list[nbformat.NotebookNode]:
    """The three cells of one ablation's section: title and text, the table, the sentence and figure."""
    figure = "fig-abl-" + ablation.key.replace("_", "-")
    cells = [
        nbformat.v4.new_markdown_cell(f"## {ablation.title}\n\n{ablation.text}"),
        nbformat.v4.new_code_cell(f'section(by_key["{ablation.key}"])'),
        nbformat.v4.new_markdown_cell(
            f"{{glue:md}}`{ablation.key}_text`\n\n```{{glue:figure}} {ablation.key}_fig\n:name: {figure}\n\n"
            f"{ablation.title}{FIGURE_CAPTION}\n```"),
    ]
    cells[1].metadata["tags"] = ["remove-input", "full-width"]
    for i, cell in enumerate(cells):
        cell.metadata[GENERATED] = True
        cell["id"] = f"abl-{ablation.key}-{i}".replace("_", "-")
    return cells


def ablations_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with its generated cells replaced by one section per ablation of the study, placed
    where the first generated cell was."""
    first = next((i for i, c in enumerate(nb.cells) if c.metadata.get(GENERATED)), None)
    if first is None:
        raise ValueError(f"{ABLATIONS.name}: no generated ablation cells (metadata '{GENERATED}') to replace")
    kept = [c for c in nb.cells if not c.metadata.get(GENERATED)]
    cells = [cell for ablation in ablations.STUDY_ABLATIONS for cell in ablation_cells(ablation)]
    nb.cells = kept[:first] + cells + kept[first:]
    return nb


def outdated() -> dict[Path, str]:
    """Each file whose generated part differs from the tables, with its new text."""
    new = {TOC: toc_text(TOC.read_text())}
    nb = ablations_notebook(nbformat.read(ABLATIONS, as_version=4))
    new[ABLATIONS] = nbformat.writes(nb) + "\n"
    return {path: text for path, text in new.items() if path.read_text() != text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report out-of-date files (exit 1)")
    args = parser.parse_args(argv)
    stale = outdated()
    for path, text in stale.items():
        if args.check:
            print(f"{path.relative_to(REPO)} is out of date: run python tools/make_book_sections.py")
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO)}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
