"""Sphinx extension: the book's title names the data its numbers come from, computed at build.

The title in ``_config.yml`` holds the placeholder ``{shipped_data}``. At build time it becomes the
short name of the data set the study's records come from (``report.study_plan.study_runs``: CIFAR-100 when
``results/`` has CIFAR-100 records of the study, else the data set with most of them, today the
CIFAR-10 JPEG copies), so the title never promises CIFAR-100 numbers the book does not show. The
placeholder is filled in the HTML title and in the PDF's title page.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

PLACEHOLDER = "{shipped_data}"
NO_RECORDS = "CIFAR-100（尚无运行记录）"


def shipped_data() -> str:
    """The short name of the data set the book's study numbers come from (see module docstring)."""
    from cifarlib.report.budget_line import DATASET_SHORT_NAMES
    from cifarlib.report.study_plan import planned_runs, study_runs
    from cifarlib.results import load_runs

    study = study_runs(load_runs(), planned_runs("study"))
    if study.empty:
        return NO_RECORDS
    dataset = str(study["dataset"].iloc[0])
    return DATASET_SHORT_NAMES.get(dataset, dataset)


def fill(title: str, data: str) -> str:
    """``title`` with the placeholder replaced by ``data`` (a title without it is left alone)."""
    return title.replace(PLACEHOLDER, data)


def on_config_inited(app: Sphinx, config: Config) -> None:
    config.shipped_data = shipped_data()
    for name in ("html_title", "project"):
        if isinstance(config[name], str):
            config[name] = fill(config[name], config.shipped_data)


def on_env_before_read_docs(app: Sphinx, env: Any, docnames: list[str]) -> None:
    # jupyter-book writes the title into latex_documents after Sphinx has started, so fill it here
    app.config.latex_documents = [
        (doc[0], doc[1], fill(doc[2], app.config.shipped_data), *doc[3:])
        for doc in app.config.latex_documents]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("shipped_data", "", "html", [str])
    app.connect("config-inited", on_config_inited)
    app.connect("env-before-read-docs", on_env_before_read_docs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
