"""Sphinx extension: the HTML book offers the PDF of the whole book for download.

``make pdf`` builds the PDF (``book/_build/latex/book.pdf``) and then the HTML. When the HTML is
built and that PDF is up to date (newer than every page source, the configuration and the run
records in ``results/``), the PDF is copied next to the pages (``book.pdf``) and every page gets a
``<meta name="book-pdf">`` with its relative address; ``book/_static/pdf_download.js`` then turns
the header's ".pdf" item (which would print the current page) into a link to the PDF. Without an
up-to-date PDF nothing is copied and the item stays as the theme makes it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

PDF_NAME = "book.pdf"
SOURCE_SUFFIXES = {".md", ".ipynb", ".yml", ".bib", ".py", ".json"}


def built_pdf(srcdir: Path) -> Path:
    """Where ``make pdf`` leaves the PDF for the book in ``srcdir``."""
    return srcdir / "_build" / "latex" / PDF_NAME


def newest_source(srcdir: Path) -> float:
    """The latest modification time among the book's sources, its configuration and extensions,
    and the run records its pages are computed from (``results/`` next to ``srcdir``)."""
    roots = [srcdir, srcdir.parent / "results"]
    times = [0.0]
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if "_build" in path.parts or any(p.startswith(".") for p in path.relative_to(root).parts):
                continue
            if path.suffix in SOURCE_SUFFIXES and path.is_file():
                times.append(path.stat().st_mtime)
    return max(times)


def current_pdf(srcdir: Path) -> Path | None:
    """The built PDF if it exists and no source is newer, else None (a stale PDF is not offered)."""
    pdf = built_pdf(srcdir)
    if pdf.is_file() and pdf.stat().st_mtime >= newest_source(srcdir):
        return pdf
    return None


def on_config_inited(app: Sphinx, config: Config) -> None:
    # a config value of the "html" kind: when the PDF appears or goes, every page is written again
    pdf = current_pdf(Path(app.srcdir))
    config.book_pdf = f"{pdf.stat().st_size}:{pdf.stat().st_mtime_ns}" if pdf else ""


def on_page_context(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                    doctree: Any) -> None:
    if app.config.book_pdf and "pathto" in context:
        href = context["pathto"](PDF_NAME, 1)
        context["metatags"] = context.get("metatags", "") + f'\n<meta name="book-pdf" content="{href}" />'


def on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / PDF_NAME
    pdf = current_pdf(Path(app.srcdir)) if app.config.book_pdf else None
    if pdf is None:
        target.unlink(missing_ok=True)
    else:
        shutil.copy2(pdf, target)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_pdf", "", "html", [str])
    app.connect("config-inited", on_config_inited)
    app.connect("html-page-context", on_page_context)
    app.connect("build-finished", on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
