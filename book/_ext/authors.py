"""Sphinx extension: the book's author (HTML metadata and the PDF's title page) from
``book/authors.yml`` (:func:`cifarlib.report.authors.load_authors`), the one file a student edits."""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config


def on_config_inited(app: Sphinx, config: Config) -> None:
    from cifarlib.report.authors import author_line, load_authors

    config.author = author_line(load_authors())


def on_env_before_read_docs(app: Sphinx, env: Any, docnames: list[str]) -> None:
    # jupyter-book fills latex_documents (start, target, title, author, theme) from _config.yml's author
    app.config.latex_documents = [(*doc[:3], app.config.author, *doc[4:]) for doc in app.config.latex_documents]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", on_config_inited)
    app.connect("env-before-read-docs", on_env_before_read_docs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
