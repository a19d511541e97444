"""tools/check_book.py's page checks, on hand-made DOMs (no browser needed), and its narrow-window
pass on hand-made pages in headless Chromium (skipped where Chromium is not installed)."""

from __future__ import annotations

import importlib.util
import shutil
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("check_book", REPO / "tools" / "check_book.py")
check_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_book)


def test_clean_page_passes(tmp_path: Path) -> None:
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "a.png").write_bytes(b"png")
    page = tmp_path / "p.html"
    dom = ('<style>mjx-merror { color: red } .MathJax_Error { }</style>'  # MathJax's own CSS rules
           '<main><p>准确率 83%</p><img src="_images/a.png"><mjx-container>x</mjx-container></main>')
    assert check_book.problems_in_dom(dom, tmp_path, page) == []


def test_missing_image_traceback_warning_and_raw_math_fail(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    dom = ('<main><img src="_images/gone.png"><pre>Traceback (most recent call last):</pre>'
           '<p>TqdmWarning: IProgress not found</p><p>$\\frac{a}{b}$</p><mjx-merror>e</mjx-merror></main>')
    problems = check_book.problems_in_dom(dom, tmp_path, page)
    kinds = {p.split(":")[0] for p in problems}
    assert kinds == {"missing image", "visible traceback", "visible warning", "unrendered math", "MathJax error"}


def test_literal_backticks_outside_code_are_unrendered_markdown(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    glued = '<main><p>尚未运行：mixer_s4（`python -m cifarlib sweep fullcheck` 会补上）</p></main>'
    assert check_book.problems_in_dom(glued, tmp_path, page) == [
        "unrendered Markdown: `python -m cifarlib sweep fullcheck`"]
    rendered = '<main><p>运行 <code>python -m cifarlib</code></p><pre>a `literal` in a code block</pre></main>'
    assert check_book.problems_in_dom(rendered, tmp_path, page) == []


def test_bare_less_than_in_html_is_unescaped_markup() -> None:
    source = ('<script>if (a < 0.001) {}</script><table><tr><td class="data">< 0.001</td></tr></table>'
              '<!-- note --><p>p &lt; 0.001</p>')
    assert check_book.unescaped_markup(source) == ["unescaped '<' in HTML: < 0.001"]
    assert check_book.unescaped_markup(source.replace("\">< 0.001", "\">&lt; 0.001")) == []


def test_tables_the_probe_found_too_wide_are_reported(tmp_path: Path) -> None:
    dom = ('<body data-wide-tables="[&quot;wide table: 40 px wider than the page: 比较&quot;]">'
           '<main><table><tr><th>比较</th></tr></table></main></body>')
    assert check_book.problems_in_dom(dom, tmp_path, tmp_path / "p.html") == ["wide table: 40 px wider than the page: 比较"]
    assert check_book.problems_in_dom(dom.replace("[&quot;wide table: 40 px wider than the page: 比较&quot;]", "[]"),
                                      tmp_path, tmp_path / "p.html") == []


def test_run_pages_keep_their_archived_wide_tables_but_nothing_else() -> None:
    wide = "wide table: 639 px wider than the page: model | variant | dataset"
    assert check_book.archived_layout("runs/cifar10-jpeg/main/resnet20-default-s0.html", wide)
    assert not check_book.archived_layout("results.html", wide)
    assert not check_book.archived_layout("runs/cifar10-jpeg/main/resnet20-default-s0.html", "visible traceback")


def test_the_width_probe_writes_the_kind_archived_layout_recognises() -> None:
    assert f"`{check_book.WIDE_TABLE}: ${{over}} px wider than the page" in check_book.WIDE_TABLES_JS
    assert "%WIDE_TABLE%" not in check_book.WIDE_TABLES_PROBE + check_book.CHECK_JS


def _page(body: str) -> str:
    """A built page: the theme's header and footer around the article, as pydata-sphinx-theme writes it."""
    return ('<html><body><main role="main"><div class="bd-header-article">下载 .md</div>'
            f'<article class="bd-article">{body}</article><footer>作者 项目组</footer></main></body></html>')


def test_clean_chinese_prose_has_no_typography_problems() -> None:
    body = ('<h1>主要结果<a class="headerlink" href="#x">#</a></h1>'
            '<p>用 <code>eca_resnet20</code> 训练 4 轮（约 20 万张图像），见<a href="r.html">消融实验</a>；'
            '维度 <span class="math">\\(C/r\\)</span> 的“冗余”通道。</p><pre>print("English code, not a sentence")</pre>'
            '<div class="citation"><p>Deep residual learning for image recognition. In CVPR, 2016.</p></div>')
    assert check_book.typography_problems(_page(body)) == []


def test_each_typography_rule_finds_its_problem() -> None:
    cases = {
        "space between Chinese characters": "<p>见 主要结果</p>",
        "space next to full-width punctuation": "<p>替代数据。 本书</p>",
        "ASCII quote in Chinese text": '<p>把第一个"Conv3×3"换成</p>',
        "half-width punctuation after Chinese": "<p>种子, 轮次</p>",
        "half-width parentheses around Chinese": "<td>差 (点)</td>",
        "nested full-width brackets": "<p>关（resnet20（参考））</p>",
        "English sentence": "<p>This notebook trains one model through the engine.</p>",
    }
    for kind, body in cases.items():
        problems = check_book.typography_problems(_page(body))
        assert [p.split(": ")[1] for p in problems] == [kind], (kind, problems)


def test_typography_reads_only_the_article_and_leaves_code_and_math_out() -> None:
    page = _page('<p>参数量 <span class="math">\\(k\\)</span> 与 <code>resnet20</code> 之差</p>')
    assert check_book.prose_blocks(page) == [f"参数量 {check_book.OPAQUE} 与 {check_book.OPAQUE} 之差"]
    assert check_book.typography_problems(page) == []


# --------------------------------------------------------------------------- narrow window (390 px)


def test_a_page_wider_than_the_frame_is_reported_with_its_widest_element() -> None:
    found = {"page": 608, "frame": 390, "element": {"tag": "div", "cls": "math", "text": "x = 1", "width": 600}}
    assert check_book.narrow_problems(found) == [
        'narrow window: page 218 px wider than a 390 px window; widest: <div class="math"> 600 px wide: x = 1']
    assert check_book.narrow_problems({"page": 391, "frame": 390, "element": None}) == []  # rounding
    assert check_book.narrow_problems({"page": 390, "frame": 390, "element": None}) == []


def test_a_narrow_probe_that_did_not_run_is_a_problem_not_a_pass() -> None:
    [problem] = check_book.narrow_problems(None)
    assert problem.startswith("narrow window: the 390 px probe did not run") and "--no-narrow" in problem
    assert check_book.narrow_result_in_dom("<body><iframe></iframe></body>") is None
    assert check_book.narrow_result_in_dom('<body data-narrow="{&quot;page&quot;: 390}">') == {"page": 390}


def test_the_narrow_pass_leaves_out_the_run_pages(tmp_path: Path) -> None:
    for rel in ("intro.html", "methods/se.html", "runs/cifar10-jpeg/main/resnet20-default-s0.html",
                "_static/x.html", "search.html"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("<html></html>", encoding="utf-8")
    assert check_book.narrow_pages(tmp_path) == ["intro.html", "methods/se.html"]


def test_the_server_wraps_a_page_in_a_narrow_frame(tmp_path: Path) -> None:
    (tmp_path / "a b.html").write_text("<html><body>页</body></html>", encoding="utf-8")
    server, base = check_book.serve(tmp_path)
    try:
        wrapper = urllib.request.urlopen(base + check_book.NARROW_ROUTE + "a%20b.html").read().decode()
    finally:
        server.shutdown()
    assert '<iframe id="narrow" src="/a%20b.html" width="390"' in wrapper
    assert "document.body.dataset.narrow" in wrapper and "scrollWidth" in wrapper


NARROW_PAGES = {
    # an unbreakable 600 px element widens the page: the whole page scrolls sideways at 390 px
    "wide.html": '<p>短文</p><div class="culprit" style="width:600px">宽元素</div>',
    # the same element in a box that scrolls sideways itself (how the book's tables are set)
    "boxed.html": '<p>短文</p><div style="overflow-x:auto"><div class="culprit" style="width:600px">宽元素</div></div>',
    # a table with an unbreakable column, not in a scrolling box
    "table.html": '<table class="t"><tr><td>模型</td><td style="white-space:nowrap">' + "a" * 90 + "</td></tr></table>",
    # both: the widest element named is the one widening the page, not the wider one in its box
    "mixed.html": ('<div style="overflow-x:auto"><div class="boxed" style="width:900px">盒内</div></div>'
                   '<div class="culprit" style="width:600px">宽元素</div>'),
    "fits.html": "<p>" + "一段会自动折行的中文文字，" * 20 + "</p>",
}


def _chromium() -> str:
    exe = next((p for name in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(name))), None)
    if exe is None:
        pytest.skip("no Chromium installed (apt-get install -y chromium)")
    return exe


@pytest.fixture(scope="module")
def narrow_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """NARROW_PAGES written as a built book's pages."""
    root = tmp_path_factory.mktemp("narrow")
    for name, body in NARROW_PAGES.items():
        (root / name).write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><main>{body}'
                                 "</main></body></html>", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def narrow_results(narrow_book: Path) -> dict[str, list[str]]:
    """The narrow pass (Chromium's CLI, as check_pages_cli runs it) on NARROW_PAGES."""
    exe = _chromium()
    server, base = check_book.serve(narrow_book, inject=check_book.WIDE_TABLES_PROBE)
    try:
        return {name: check_book.narrow_problems(check_book.probe_narrow_cli(exe, base, name))
                for name in NARROW_PAGES}
    finally:
        server.shutdown()


def test_an_unbreakable_600px_element_fails_at_390px(narrow_results: dict[str, list[str]]) -> None:
    [problem] = narrow_results["wide.html"]
    assert problem.startswith("narrow window: page 2") and '<div class="culprit"> 600 px wide: 宽元素' in problem
    [problem] = narrow_results["table.html"]
    assert '<table class="t">' in problem
    [problem] = narrow_results["mixed.html"]
    assert '<div class="culprit"> 600 px' in problem


def test_the_same_element_in_a_scrolling_box_and_a_page_that_fits_pass(narrow_results: dict[str, list[str]]) -> None:
    assert narrow_results["boxed.html"] == []
    assert narrow_results["fits.html"] == []


def test_the_playwright_path_finds_what_the_cli_finds(narrow_book: Path, narrow_results: dict[str, list[str]],
                                                      tmp_path: Path) -> None:
    pytest.importorskip("playwright", reason="Playwright is optional (check_book falls back to the CLI)")
    found = check_book.check_pages(narrow_book, tmp_path)
    assert {name: [p for p in problems if p.startswith("narrow window")] for name, problems in found.items()} \
        == narrow_results
