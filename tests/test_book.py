"""The book builds as typed (warnings are errors), shows every chapter and searches Chinese."""

from __future__ import annotations

import importlib.util
import json
import random
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]  # one build: conftest.book_build


@pytest.fixture(scope="module")
def build(book_build: dict) -> dict:
    """The book as ``make pdf`` builds it (tests/conftest.py): PDF, then HTML, one execution."""
    return book_build


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


# terms the issue found missing from the old, dictionary-based search; the test samples more
SEARCH_MUST_FIND = ("层缩放", "批大小", "等参数", "测试时增强", "多重比较", "数据增强")
SEARCH_SAMPLE = 30


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _search_index(html: Path) -> dict:
    text = (html / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def test_search_finds_every_chinese_term_on_the_pages_that_show_it(html: Path) -> None:
    """30 Han terms of 2-6 characters from the built pages' text (the six the issue named, the rest
    drawn with a fixed seed), each queried as the search page's JavaScript does (its Python mirror,
    cjk_search.search): every page whose text shows the term must be among the results."""
    cjk_search = _load(REPO / "book" / "_ext" / "cjk_search.py", "cjk_search")
    check_book = _load(REPO / "tools" / "check_book.py", "check_book")
    index = _search_index(html)
    texts = {doc: "\n".join(check_book.prose_blocks((html / f"{doc}.html").read_text(encoding="utf-8")))
             for doc in index["docnames"]}
    han = re.compile(f"[{cjk_search.HAN_CLASS}]+")
    pool = sorted({run[i:i + n] for text in texts.values() for run in han.findall(text)
                   for n in range(2, 7) for i in range(len(run) - n + 1)})
    terms = list(SEARCH_MUST_FIND) + random.Random(0).sample(
        [t for t in pool if t not in SEARCH_MUST_FIND], SEARCH_SAMPLE - len(SEARCH_MUST_FIND))
    pairs = missed = 0
    misses = []
    for term in terms:
        shown = {doc for doc, text in texts.items() if term in text}
        assert shown, f"{term} is on no page"
        lost = shown - set(cjk_search.search(index, term))
        pairs += len(shown)
        missed += len(lost)
        misses += [f"{term}: {doc}" for doc in sorted(lost)]
    assert not misses, f"{missed} of {pairs} (term, page) pairs not found: {misses[:10]}"


def test_search_snippets_and_query_splitting_ship_with_the_page(html: Path) -> None:
    language_data = (html / "_static" / "language_data.js").read_text(encoding="utf-8")
    assert "var splitQuery" in language_data and "Chinese n-gram search" in language_data
    search_page = (html / "search.html").read_text(encoding="utf-8")
    assert "cjk_search.js" in search_page  # snippets centred on the phrase, formulas as text


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


def _html_table_with(page: str, header: str) -> list[dict[str, str]]:
    """The rows (header -> cell text) of the first HTML table on ``page`` whose header row has ``header``."""
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tables: list[list[list[str]]] = []
            self.cell: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag == "table":
                self.tables.append([])
            elif tag == "tr" and self.tables:
                self.tables[-1].append([])
            elif tag in ("td", "th") and self.tables:
                self.cell = []

        def handle_endtag(self, tag: str) -> None:
            if tag in ("td", "th") and self.cell is not None and self.tables and self.tables[-1]:
                self.tables[-1][-1].append("".join(self.cell).strip())
                self.cell = None

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell.append(data)

    parser = Tables()
    parser.feed(page)
    for rows in parser.tables:
        rows = [r for r in rows if r]
        if rows and header in rows[0]:
            return [dict(zip(rows[0], r)) for r in rows[1:]]
    raise AssertionError(f"no table with the header {header!r}")


def test_design_table_parameters_are_the_main_records(build: dict, html: Path) -> None:
    """The conclusions' design-vs-capacity table: each parameter column is the main / main_iso
    default record's params_m (not an ablation arm of the same model, e.g. ghost_resnet20 at s=3)."""
    from cifarlib.report import study_plan
    from cifarlib.results import load_runs

    runs = study_plan.study_runs(load_runs(build["repo"] / "results"), study_plan.planned_runs("study"))
    main = runs[runs["experiment"].isin(["main", "main_iso"]) & (runs["variant"] == "default")]
    params = main.groupby("model")["params_m"].first()
    rows = _html_table_with((html / "conclusions.html").read_text(), "原设计参数（百万）")
    assert rows, "the design-vs-capacity table has no rows"
    for row in rows:
        model = row["嫁接"]
        assert row["原设计参数（百万）"] == f"{params[model]:.3f}", model
        assert row["等参数版参数（百万）"] == f"{params[model + '_iso']:.3f}", model


def _chapter_pages(html: Path) -> list[list[str]]:
    """The toc's chapters in order, each as its pages (the chapter's own first, then its sections,
    globs expanded), as paths of built HTML files relative to ``html``."""
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))

    def pages(entry: dict) -> list[str]:
        out = [entry["file"]] if "file" in entry else []
        if "glob" in entry:
            out += sorted(str(p.relative_to(html).with_suffix("")) for p in html.glob(entry["glob"] + ".html"))
        for section in entry.get("sections", []):
            out += pages(section)
        return out

    return [pages(chapter) for part in toc["parts"] for chapter in part["chapters"]]


def test_figures_and_tables_are_numbered_per_chapter_in_order(html: Path) -> None:
    """Every caption number in the HTML is 图/表 N.M with N the chapter's place in the toc (as the
    PDF numbers chapters) and M counting 1, 2, ... through the chapter's pages in reading order:
    unique across the book, no page restarting at 1, no number left over from a notebook."""
    number = re.compile(r'<span class="caption-number">([图表]) (\d+)\.(\d+) </span>')
    seen: dict[str, int] = {}
    counted = 0
    for chapter, pages in enumerate(_chapter_pages(html), start=1):
        next_number = {"图": 1, "表": 1}
        for name in pages:
            text = (html / f"{name}.html").read_text(encoding="utf-8")
            assert not re.search(r"<strong>[图表]\s*\d*</strong>", text), f"{name}: an unnumbered or self-numbered caption"
            for kind, n, m in number.findall(text):
                label = f"{kind} {n}.{m}"
                assert int(n) == chapter, f"{name}: {label} in chapter {chapter}"
                assert int(m) == next_number[kind], f"{name}: {label} where {kind} {chapter}.{next_number[kind]} was due"
                assert label not in seen, f"{label} twice"
                seen[label] = chapter
                next_number[kind] += 1
                counted += 1
    assert counted >= 60, f"only {counted} numbered figures and tables"
    chapters_with_both = {c for c in seen.values() if f"图 {c}.1" in seen and f"表 {c}.1" in seen}
    assert len(chapters_with_both) >= 4  # methods, results, efficiency, per-class at least
