"""Chapters computed from fabricated multi-seed records show intervals; one-seed records say so."""

from __future__ import annotations

import os
from pathlib import Path

import nbclient
import nbformat
import pytest

from multiseed import fabricate_results  # tests/multiseed.py (pytest puts tests/ on sys.path)

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _run_chapter(name: str, results: Path | None) -> str:
    nb = nbformat.read(REPO / "book" / name, as_version=4)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    if results is not None:
        env["CIFARLIB_BOOK_RESULTS"] = str(results)
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(REPO / "book")}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            texts.append(out.get("text", "") + data.get("text/markdown", "") + data.get("text/html", ""))
    return "\n".join(texts)


def test_results_chapter_with_three_seeds_shows_intervals(tmp_path: Path) -> None:
    text = _run_chapter("results.ipynb", fabricate_results(tmp_path / "results"))
    assert "配对种子数" in text and "95% CI 下限" in text
    assert "main" in text and "ablation_eca_k" in text
    assert "**图 1**" in text and "Traceback" not in text
    assert "只有 **1 个随机种子**" not in text


def test_results_chapter_with_one_seed_says_it_cannot_compare(tmp_path: Path) -> None:
    import shutil

    one_seed = tmp_path / "results"  # the committed 1-seed groups only (later sweeps add seeds to others)
    for group in ("graftcheck", "offline"):
        shutil.copytree(REPO / "results" / "cifar10-jpeg" / group, one_seed / "cifar10-jpeg" / group)
    text = _run_chapter("results.ipynb", one_seed)
    assert "只有 **1 个随机种子**" in text
    assert "配对种子数" not in text
