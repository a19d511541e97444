"""Sphinx extension: the archived run pages (``runs/<dataset>/<experiment>/<run>.ipynb``) shown in
Chinese at build time.

The committed executed notebooks keep what they recorded; only the page built from them changes:
the English paragraph becomes :data:`cifarlib.report.run_page.INTRO`, the one-row English summary
becomes the vertical key/value table of :func:`~cifarlib.report.run_page.run_summary` and the
per-class table uses Chinese class names (:func:`~cifarlib.report.run_page.per_class_extremes`),
both from the run's record ``results/<dataset>/<experiment>/<run>.json``, which holds the same
numbers unrounded. A page whose record is missing is shown as committed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

SUMMARY_CELL = 'final = record["final"]'
PER_CLASS_CELL = "per_class = pd.Series("
RESULTS_HEADING = "## 结果 / Results"


def _html_output(table) -> dict[str, Any]:
    from cifarlib.report.run_page import styled

    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": styled(table).to_html(), "text/plain": table.to_string(index=False)}}


def chinese_run_page(notebook_text: str, record: dict[str, Any]) -> str:
    """The notebook JSON ``notebook_text`` with its English prose and tables replaced by their
    Chinese forms computed from ``record`` (the cells' code is left as it ran)."""
    from cifarlib.report.run_page import INTRO, per_class_extremes, run_summary

    notebook = json.loads(notebook_text)
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown" and source.startswith("# ") and "This notebook" in source:
            cell["source"] = source.splitlines()[0] + "\n\n" + INTRO
        elif cell["cell_type"] == "markdown" and source.strip() == RESULTS_HEADING:
            cell["source"] = "## 结果"
        elif cell["cell_type"] == "code" and source.startswith(SUMMARY_CELL):
            cell["outputs"] = [_html_output(run_summary(record))]
        elif cell["cell_type"] == "code" and source.startswith(PER_CLASS_CELL):
            cell["outputs"] = [_html_output(per_class_extremes(record))]
    return json.dumps(notebook, ensure_ascii=False)


def record_path(docname: str, results_dir: Path) -> Path | None:
    """``runs/<dataset>/<experiment>/<run>`` -> ``results/<dataset>/<experiment>/<run>.json``."""
    parts = docname.split("/")
    if len(parts) != 4 or parts[0] != "runs":
        return None
    return results_dir.joinpath(*parts[1:]).with_suffix(".json")


def on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    from cifarlib.paths import DEFAULT_RESULTS_DIR
    from cifarlib.results import read_record

    path = record_path(docname, Path(DEFAULT_RESULTS_DIR))
    if path is None or not app.env.doc2path(docname).endswith(".ipynb"):
        return
    if not path.exists():
        logger.info(f"run page {docname}: no record {path.name}; shown as committed")
        return
    source[0] = chinese_run_page(source[0], read_record(path, DEFAULT_RESULTS_DIR))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("source-read", on_source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
