"""The book builds as typed (warnings are errors), shows every chapter and searches Chinese."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", "book/", "--path-output", str(out), "-W", "-n", "--keep-going"],
                          cwd=REPO, capture_output=True, text=True, timeout=1500,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return out / "_build" / "html"


def test_every_toc_page_is_rendered(html: Path) -> None:
    toc = (REPO / "_toc.yml").read_text()
    files = re.findall(r"file: (\S+)", toc) + ["intro"]
    for name in files:
        assert (html / f"{name}.html").exists(), f"{name}.html missing"


def test_results_page_shows_numbers_with_their_budget(html: Path) -> None:
    page = (html / "results.html").read_text()
    assert "预算" in page and "数据集" in page
    runs = list((REPO / "results").rglob("*.json"))
    if any("offline" in p.parts for p in runs):
        assert "cifar10-jpeg" in page and "JPEG" in page
        offline = page[page.index("离线真实数据"):page.index("每个嫁接模型都能学习吗")]
        assert "（无记录）" not in offline
        assert re.search(r"<strong><span class=\"pasted-text\">\d+\.\d\d</span>%</strong>", page), "glued top-1 missing"


def test_figures_are_rendered(html: Path) -> None:
    assert len(list((html / "_images").glob("*.png"))) >= 10


def test_chinese_search_index_is_segmented(html: Path) -> None:
    text = (html / "searchindex.js").read_text()
    index = json.loads(text[text.index("(") + 1:text.rindex(")")])
    terms = index["terms"]
    assert "注意力" in terms  # jieba segments Chinese into words, so a word is a search term
    assert not any(len(term) > 20 for term in terms if "\u4e00" <= term[:1] <= "\u9fff")
    assert "language" in (html / "search.html").read_text()


def test_bibliography_is_rendered(html: Path) -> None:
    page = (html / "references.html").read_text().lower()  # the unsrt style lowercases titles
    for title in ("deep residual learning", "eca-net", "mlp-mixer", "coatnet", "large selective kernel"):
        assert title in page, title


def test_no_missing_glyphs_or_errors_in_pages(html: Path) -> None:
    for page in html.rglob("*.html"):
        text = page.read_text()
        assert "missing from font" not in text, f"{page.name}: a figure lacks CJK glyphs"
        assert "Traceback (most recent call last)" not in text, f"{page.name}: a cell failed"
