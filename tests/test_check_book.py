"""tools/check_book.py's page checks, on hand-made DOMs (no browser needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

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
