"""The whole book as one PDF (``make pdf``): complete, every glyph and font in it, offered by the HTML.

Uses the build of tests/conftest.py (PDF, then HTML from the same execution) and poppler's
pdfinfo / pdftotext / pdffonts (``make pdf-tools`` installs them).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]  # one build: conftest.book_build
# front matter, ten method pages, seven chapters, the appendix's run tables and the references; the
# run notebooks are HTML only (book/_ext/run_appendix.py): printed they were ~340 of 460 pages
MIN_PAGES, MAX_PAGES = 80, 200


def _run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def pdf(book_build: dict) -> Path:
    path = book_build["latex"] / "book.pdf"
    assert path.is_file(), "make pdf left no book/_build/latex/book.pdf"
    return path


@pytest.fixture(scope="module")
def text(pdf: Path) -> str:
    return _run("pdftotext", "-enc", "UTF-8", str(pdf), "-")


def test_pdf_has_pages(pdf: Path) -> None:
    pages = int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1))
    assert MIN_PAGES < pages < MAX_PAGES, f"{pages} pages"


def _toc_titles(book_build: dict, runs: bool = False) -> list[str]:
    """The first heading of every page the table of contents lists (globs expanded; the archived
    run pages, which only the HTML shows, only with ``runs``)."""
    book = book_build["repo"] / "book"
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    stack = list(toc.get("parts", []))
    while stack:
        entry = stack.pop(0)
        stack[:0] = entry.get("chapters", []) + entry.get("sections", [])
        if "file" in entry:
            files.append(entry["file"])
        if "glob" in entry and (runs or not entry["glob"].startswith("runs/")):
            files += sorted(str(p.relative_to(book).with_suffix("")) for p in book.glob(entry["glob"] + ".ipynb"))
    titles = []
    for name in files:
        path = next(book.glob(f"{name}.*"))
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            lines = [line for c in cells if c["cell_type"] == "markdown" for line in "".join(c["source"]).splitlines()]
        else:
            lines = path.read_text(encoding="utf-8").splitlines()
        titles.append(next(line[2:].strip() for line in lines if line.startswith("# ")))
    return titles


def test_every_chapter_title_is_in_the_pdf(book_build: dict, text: str) -> None:
    flat = re.sub(r"\s+", "", text)
    titles = _toc_titles(book_build)
    assert len(titles) > 20
    missing = [t for t in titles if re.sub(r"\s+", "", t.replace("`", "")) not in flat]
    assert not missing, f"chapter titles missing from the PDF: {missing[:10]}"


def test_the_appendix_has_a_table_per_experiment_instead_of_the_run_pages(book_build: dict, text: str) -> None:
    from cifarlib.report.run_appendix import experiment_tables
    from cifarlib.results import load_runs

    flat = re.sub(r"\s+", "", text)
    tables = experiment_tables(load_runs(book_build["repo"] / "results"))
    assert len(tables) >= 5
    for caption, table in tables:
        assert re.sub(r"\s+", "", caption) in flat, f"appendix table {caption} missing"
    run_titles = set(_toc_titles(book_build, runs=True)) - set(_toc_titles(book_build))
    assert len(run_titles) > 50
    printed = [t for t in run_titles if re.sub(r"\s+", "", t.replace("`", "")) in flat]
    assert not printed, f"run pages printed in the PDF: {printed[:5]}"


def test_figure_and_table_numbers_are_the_html_ones(book_build: dict, text: str) -> None:
    """Every 图/表 N.M of the HTML pages (run pages aside) captions the same item in the PDF, and
    the appendix adds 表 N.1, N.2, ... for its experiments (N: the run chapter's number)."""
    html = book_build["html"]
    in_html = set()
    for page in html.rglob("*.html"):
        if not page.relative_to(html).as_posix().startswith("runs/"):
            in_html |= set(re.findall(r'<span class="caption-number">([图表] \d+\.\d+) </span>', page.read_text(encoding="utf-8")))
    captions = "\n".join(line for line in text.splitlines() if "接上页" not in line)  # not a long table's "continued"
    in_pdf = [f"{kind} {number}" for kind, number in re.findall(r"^([图表]) ?(\d+\.\d+)", captions, re.M)]
    assert len(in_html) > 60
    missing = sorted(in_html - set(in_pdf))
    assert not missing, f"numbered in the HTML but not in the PDF: {missing[:10]}"
    assert len(in_pdf) == len(set(in_pdf)), "a number twice in the PDF"
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    chapters = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    runs_chapter = chapters.index("runs/index") + 1
    appendix = [label for label in in_pdf if label.startswith(f"表 {runs_chapter}.")]
    assert appendix == [f"表 {runs_chapter}.{i}" for i in range(1, len(appendix) + 1)] and len(appendix) >= 5


def orphaned_table_captions(layout: str) -> list[str]:
    """Table captions (表 N.M) at the foot of a page in ``pdftotext -layout`` output (pages split
    by form feeds): the caption is among the page's last three non-empty lines (its second line
    or the table's header row at most, then the page footer), so its table starts on the next page."""
    found = []
    for number, page in enumerate(layout.split("\f"), start=1):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        found += [f"page {number}: {line[:40]}" for i, line in enumerate(lines)
                  if re.match(r"表\s*\d+\.\d+\s", line) and i >= len(lines) - 3]
    return found


def test_a_table_caption_never_sits_at_a_page_foot_without_its_table(pdf: Path) -> None:
    orphans = orphaned_table_captions(_run("pdftotext", "-enc", "UTF-8", "-layout", str(pdf), "-"))
    assert not orphans, f"table captions at a page foot, their table on the next page: {orphans}"


def test_no_missing_characters_in_the_latex_log(book_build: dict) -> None:
    log = (book_build["latex"] / "book.log").read_text(encoding="utf-8", errors="replace")
    missing = re.findall(r"Missing character: There is no (.{1,40})", log)
    assert not missing, f"{len(missing)} glyphs missing from the fonts, e.g. {sorted(set(missing))[:5]}"


def test_all_fonts_are_embedded(pdf: Path) -> None:
    rows = _run("pdffonts", str(pdf)).splitlines()[2:]
    assert rows, "pdffonts lists no fonts"
    # columns: name, type (one or two words), encoding, emb, sub, uni, object id
    not_embedded = [row for row in rows if row.split()[-5] != "yes"]
    assert not not_embedded, "fonts not embedded:\n" + "\n".join(not_embedded)
    assert any("NotoSerifCJK" in row or "NotoSansCJK" in row for row in rows), "no CJK font in the PDF"


def test_pdf_has_contents_numbered_figures_tables_and_bibliography(text: str) -> None:
    assert "目录" in text
    assert re.search(r"图\s*\d+\.\d+", text), "no numbered figure caption (图 N.M)"
    assert re.search(r"表\s*\d+\.\d+", text), "no numbered table caption (表 N.M)"
    for title in ("Deep residual learning", "ECA-Net", "MLP-Mixer"):
        assert title.lower() in text.lower(), f"bibliography entry {title} missing"


def test_every_displayed_equation_is_numbered(book_build: dict) -> None:
    tex = (book_build["latex"] / "book.tex").read_text(encoding="utf-8")
    assert tex.count("\\begin{equation}") > 10, "too few numbered equations"
    assert "\\begin{equation*}" not in tex, "an unnumbered displayed equation"


def test_html_offers_the_pdf(book_build: dict, pdf: Path) -> None:
    html = book_build["html"]
    copy = html / "book.pdf"
    assert copy.is_file() and copy.read_bytes() == pdf.read_bytes(), "the HTML has no copy of the fresh PDF"
    page = (html / "methods" / "eca.html").read_text(encoding="utf-8")
    assert '<meta name="book-pdf" content="../book.pdf"' in page
    assert "pdf_download.js" in page


def test_one_execution_serves_both_builds(book_build: dict) -> None:
    assert "Executing notebook" in book_build["logs"]["pdf"]
    assert "Executing notebook" not in book_build["logs"]["html"], "the HTML build executed the pages again"


def test_the_title_names_the_shipped_data(book_build: dict, text: str) -> None:
    datasets = {p.name for p in (book_build["repo"] / "results").iterdir() if p.is_dir()}
    title = "CIFAR-100上的" if "cifar100" in datasets else "CIFAR-10JPEG副本上的"
    assert title in re.sub(r"\s+", "", text[:2000]), "the PDF's title does not name the shipped data"
    index = (book_build["html"] / "intro.html").read_text(encoding="utf-8")
    assert "{shipped_data}" not in index and re.search(r"<title>[^<]*(CIFAR-100|CIFAR-10 JPEG 副本)上的", index)
