"""The book builds as typed (warnings are errors), shows every chapter and searches Chinese."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _copy_repo(dest: Path) -> Path:
    """Copy the tracked files (as a user's clone would have them) to ``dest``, links kept as links."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split("\0")
    for name in filter(None, files):
        src, dst = REPO / name, dest / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the work tree but not yet committed
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)
    return dest


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Build the book from a copy of the repository at another path, with a clock on it."""
    repo = _copy_repo(tmp_path_factory.mktemp("clone") / "repo")
    jb = Path(sys.executable).with_name("jupyter-book")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo)}
    env.pop("CIFARLIB_OFFLINE_ZIP", None)  # a user's machine has no data: nothing may train
    start = time.perf_counter()
    proc = subprocess.run([str(jb), "build", "book/", "-W", "-n", "--keep-going"],
                          cwd=repo, capture_output=True, text=True, timeout=1500, env=env)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return {"repo": repo, "html": repo / "book" / "_build" / "html", "log": proc.stdout + proc.stderr,
            "seconds": seconds}


@pytest.fixture(scope="module")
def html(build: dict) -> Path:
    return build["html"]


def test_run_notebooks_are_not_executed(build: dict) -> None:
    runs = sorted((build["repo"] / "book" / "runs").rglob("*.ipynb"))
    excluded = build["log"].count("Excluded from execution by pattern")
    assert excluded >= len(runs), f"only {excluded} of {len(runs)} run notebooks excluded from execution"
    # the clock: a build that trains takes minutes per run page, one that does not takes seconds
    per_run = build["seconds"] / max(len(runs), 1)
    assert per_run < 60, f"{build['seconds']:.0f} s for {len(runs)} run pages: the build is training"


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
    for phrase in ("通道注意力", "参数量", "随机种子"):  # the search box looks a query up as one term
        assert phrase in terms, f"search for {phrase} finds nothing"


def test_bibliography_is_rendered(html: Path) -> None:
    page = (html / "references.html").read_text().lower()  # the unsrt style lowercases titles
    for title in ("deep residual learning", "eca-net", "mlp-mixer", "coatnet", "large selective kernel"):
        assert title in page, title


def test_no_missing_glyphs_or_errors_in_pages(html: Path) -> None:
    for page in html.rglob("*.html"):
        text = page.read_text()
        assert "missing from font" not in text, f"{page.name}: a figure lacks CJK glyphs"
        assert "Traceback (most recent call last)" not in text, f"{page.name}: a cell failed"


def test_no_spaces_from_wrapped_chinese_lines(html: Path) -> None:
    broken = re.compile(r"[\u4e00-\u9fff，。；：、]\n[\u4e00-\u9fff]")
    # chapters and method pages (a break next to inline math or a citation is checked too)
    for page in [*html.glob("*.html"), *html.glob("methods/*.html")]:
        body = re.sub(r"<(pre|script|style)\b.*?</\1>", "", page.read_text(), flags=re.S)
        paragraphs = " ".join(re.findall(r"<p>(.*?)</p>", body, flags=re.S))
        assert not broken.search(paragraphs), f"{page.name}: a wrapped line leaves a space inside a sentence"


def test_chinese_quotes_open_and_close(html: Path) -> None:
    for page in [*html.glob("*.html"), *html.glob("methods/*.html")]:
        body = re.sub(r"<(pre|script|style|code)\b.*?</\1>", "", page.read_text(), flags=re.S)
        for para in re.findall(r"<p>(.*?)</p>", body, flags=re.S):
            quotes = "".join(c for c in para if c in "“”")
            assert quotes == "“”" * (len(quotes) // 2), f"{page.name}: quotes {quotes} in {para[:80]!r}"
