"""Sphinx extension: in the PDF, the archived run notebooks give way to one compact appendix.

The HTML shows every run's executed notebook (``runs/<dataset>/<experiment>/<run>``, under
``runs/index``). Printed, those pages were most of the book, so for LaTeX builds this extension

* drops the run pages from the book's one LaTeX tree (they stay in the HTML and its search), and
* replaces the ``{run-appendix}`` directive (on ``runs/index``) by a table per experiment, one row
  per run record (:func:`cifarlib.report.run_appendix.experiment_tables`), set as the notebooks'
  tables are (``latex_tables``: longtables that fit the page, numbered 表 N.M by ``numbering``).

In other builds the directive leaves nothing. The records are read when the page is written, so
the tables are as fresh as the build.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

RUN_PAGE_DEPTH = 4  # runs/<dataset>/<experiment>/<run>


class run_appendix(nodes.General, nodes.Element):
    """Where the appendix's tables go (replaced or removed before writing)."""


class RunAppendixDirective(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        return [run_appendix()]


def is_run_page(docname: str) -> bool:
    parts = docname.split("/")
    return len(parts) == RUN_PAGE_DEPTH and parts[0] == "runs"


def appendix_nodes() -> list[nodes.Node]:
    """The appendix's tables as docutils nodes for LaTeX, each with its caption as title."""
    from latex_tables import Cell, ParsedTable, layout, to_docutils

    from cifarlib.paths import DEFAULT_RESULTS_DIR
    from cifarlib.report.run_appendix import experiment_tables
    from cifarlib.results import load_runs

    out: list[nodes.Node] = []
    for caption, table in experiment_tables(load_runs(DEFAULT_RESULTS_DIR)):
        parsed = ParsedTable(head=[[Cell(str(c), True) for c in table.columns]],
                             body=[[Cell(str(v), False) for v in row] for row in table.itertuples(index=False)],
                             caption=caption, left_columns={0, 1})
        out += to_docutils(parsed, layout(parsed))
    return out


class RunAppendix(SphinxPostTransform):
    """LaTeX: run pages out, appendix tables in. Other builders: the placeholder out."""

    default_priority = 2  # before latex_tables (3) sets the run pages' tables for nothing

    def run(self, **kwargs: Any) -> None:
        latex = self.app.builder.format == "latex"
        if latex:
            for page in list(self.document.findall(addnodes.start_of_file)):
                if is_run_page(page["docname"]):
                    page.parent.remove(page)
        for placeholder in list(self.document.findall(run_appendix)):
            placeholder.replace_self(appendix_nodes() if latex else [])


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_node(run_appendix)
    app.add_directive("run-appendix", RunAppendixDirective)
    app.add_post_transform(RunAppendix)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
