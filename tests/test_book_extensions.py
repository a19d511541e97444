"""The book's Sphinx extensions (book/_ext) on hand-made input: search, LaTeX tables, PDF link, title."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from docutils import nodes

REPO = Path(__file__).resolve().parent.parent


def _ext(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "book" / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


cjk_search = _ext("cjk_search")
latex_tables = _ext("latex_tables")
pdf_download = _ext("pdf_download")
shipped_title = _ext("shipped_title")
numbering = _ext("numbering")
run_appendix = _ext("run_appendix")


# --------------------------------------------------------------------------- search


def test_han_text_is_indexed_as_bigrams_and_latin_as_words() -> None:
    assert cjk_search.han_ngrams("层缩放的初值") == ["层缩", "缩放", "放的", "的初", "初值"]
    assert cjk_search.han_ngrams("猫") == []
    lang = cjk_search.SearchChineseNgrams({})
    assert lang.split("用 eca_resnet20 做测试时增强") == ["做测", "测试", "试时", "时增", "增强", "eca_resnet20"]


def test_a_query_is_split_like_the_index() -> None:
    assert cjk_search.query_terms("测试时增强") == ["测试", "试时", "时增", "增强"]
    assert cjk_search.query_terms("ResNet 的 残差") == ["resnet", "残差"]  # a lone Han character is dropped
    assert cjk_search.query_terms("猫") == ["猫"]  # unless it is the whole query


def _index(pages: dict[str, str]) -> dict:
    """A search index as Sphinx writes it, for pages given as plain text."""
    lang = cjk_search.SearchChineseNgrams({})
    terms: dict[str, set[int]] = {}
    for number, text in enumerate(pages.values()):
        for word in lang.split(text):
            terms.setdefault(lang.stem(word).lower(), set()).add(number)
    return {"docnames": list(pages), "terms": {k: sorted(v) if len(v) > 1 else next(iter(v)) for k, v in terms.items()},
            "titleterms": {}}


def test_search_finds_a_phrase_on_the_pages_that_hold_it() -> None:
    index = _index({"a": "消融实验：层缩放的初值", "b": "批大小与学习率", "c": "层的缩放"})
    assert cjk_search.search(index, "层缩放") == ["a"]  # c has 缩放 but not 层缩
    assert cjk_search.search(index, "批大小") == ["b"]
    assert cjk_search.search(index, "缩放") == ["a", "c"]
    assert cjk_search.search(index, "数据增强") == []


def test_the_indexer_sees_a_block_whole_and_without_math() -> None:
    doc = nodes.document(None, None)
    para = nodes.paragraph()
    para += [nodes.Text("测试时"), nodes.strong(text="增强"), nodes.math(text=r"\frac{a}{b}"), nodes.Text("参数")]
    doc += para
    copy = cjk_search.index_copy(doc)
    assert copy.children[0].astext() == "测试时增强参数"
    assert para.astext() == r"测试时增强\frac{a}{b}参数"  # the page itself is unchanged


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the page's JavaScript")
def test_the_javascript_splitter_matches_its_python_mirror() -> None:
    queries = ["测试时增强", "ResNet 的 残差", "猫", "eca_resnet20 通道注意力", "多重比较，Holm"]
    script = cjk_search.JS_SPLITTER + f"console.log(JSON.stringify({json.dumps(queries)}.map(splitQuery)));"
    out = json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)
    mirror = [[t.lower() for t in cjk_search.query_terms(q)] for q in queries]
    assert [[t.lower() for t in terms] for terms in out] == mirror


# --------------------------------------------------------------------------- LaTeX tables

STYLER = """<style type="text/css">
#T_a_row0_col0, #T_a_row1_col0 { text-align: left; }
</style>
<table id="T_a"><thead><tr><th class="col_heading">嫁接</th><th>参数 (M)</th><th>解读</th></tr></thead>
<tbody><tr><td>coat_resnet20</td><td>0.194</td><td>种子不足</td></tr>
<tr><td>csp_resnet20</td><td>0.099</td><td>差距来自参数量</td></tr></tbody></table>"""


def test_numbers_and_intervals_are_numeric_and_never_wrap() -> None:
    assert latex_tables.is_numeric(["[-4.01, -3.45]", "< 0.001", "—", "+19.87", "55.4%"])
    assert not latex_tables.is_numeric(["-4.92 —（1 对）"])
    assert latex_tables.unbreakable("main_iso（对 resnet20）") == 8  # breaks at the space and by Han


def test_an_html_table_is_read_with_its_alignment() -> None:
    table = latex_tables.parse_table(STYLER)
    assert [c.text for c in table.head[0]] == ["嫁接", "参数 (M)", "解读"]
    assert [c.text for c in table.body[1]] == ["csp_resnet20", "0.099", "差距来自参数量"]
    assert table.left_columns == {0}
    assert latex_tables.parse_table("<p>no table</p>") is None


def test_a_narrow_table_keeps_natural_columns_numbers_right() -> None:
    plan = latex_tables.layout(latex_tables.parse_table(STYLER))
    assert (plan.colspec, plan.fontsize, plan.landscape) == ("lrl", r"\small", False)


def _wide(columns: int, text: str) -> str:
    head = "".join(f"<th>列{i}</th>" for i in range(columns))
    row = "".join(f"<td>{text}</td>" if i % 2 else "<td>1.25</td>" for i in range(columns))
    return f"<table><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table>"


def test_a_wide_table_wraps_its_text_columns_in_a_smaller_font() -> None:
    plan = latex_tables.layout(latex_tables.parse_table(_wide(6, "差距来自参数量：等参数后无可检测差异" * 2)))
    assert plan.fontsize == r"\footnotesize" and not plan.landscape
    assert plan.colspec.count(r"\raggedright") == 3  # the three text columns wrap
    size, point, colsep = latex_tables.SIZES[-1]
    assert sum(plan.widths) <= latex_tables._room(latex_tables.TEXT_WIDTH_PT, point, 6, colsep) + 1


def test_a_table_too_wide_even_when_wrapped_turns_landscape() -> None:
    plan = latex_tables.layout(latex_tables.parse_table(_wide(24, "一段较长的说明文字")))
    assert plan.landscape


def test_the_table_becomes_a_longtable_with_its_column_spec() -> None:
    table = latex_tables.parse_table(STYLER)
    raw_begin, spec, tnode, raw_end = latex_tables.to_docutils(table, latex_tables.layout(table))
    assert spec["spec"] == "lrl" and "longtable" in tnode["classes"]
    assert raw_begin.astext().startswith(r"\begingroup\small\setlength{\tabcolsep}{6pt}")
    assert raw_end.astext().strip() == r"\endgroup"
    assert len(list(tnode.findall(nodes.row))) == 3 and len(list(tnode.findall(nodes.thead))) == 1


# --------------------------------------------------------------------------- PDF link and title


def test_only_a_pdf_newer_than_every_source_is_offered(tmp_path: Path) -> None:
    book = tmp_path / "book"
    (book / "_build" / "latex").mkdir(parents=True)
    (tmp_path / "results").mkdir()
    page = book / "intro.md"
    page.write_text("# 概述")
    assert pdf_download.current_pdf(book) is None  # not built
    pdf = pdf_download.built_pdf(book)
    pdf.write_bytes(b"%PDF")
    past = time.time() - 100
    os.utime(page, (past, past))
    assert pdf_download.current_pdf(book) == pdf
    (tmp_path / "results" / "run.json").write_text("{}")  # a newer record: the PDF is stale
    assert pdf_download.current_pdf(book) is None


def test_the_title_placeholder_is_filled_with_the_shipped_data() -> None:
    assert shipped_title.fill("{shipped_data}上的现代卷积", "CIFAR-100") == "CIFAR-100上的现代卷积"
    datasets = {p.name for p in (REPO / "results").iterdir() if p.is_dir()}
    expected = "CIFAR-100" if "cifar100" in datasets else "CIFAR-10 JPEG 副本"
    assert shipped_title.shipped_data() == expected


def test_a_single_record_too_wide_is_printed_on_its_side() -> None:
    head = "".join(f"<th>column_{i}</th>" for i in range(13))
    row = "".join(f"<td>value number {i}</td>" for i in range(13))
    wide = latex_tables.parse_table(f"<table><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table>")
    table = latex_tables.for_print(wide)
    assert [[c.text for c in r] for r in table.body][:2] == [["column_0", "value number 0"], ["column_1", "value number 1"]]
    assert latex_tables.for_print(latex_tables.parse_table(STYLER)) is not None  # two rows: as it is
    assert len(latex_tables.for_print(latex_tables.parse_table(STYLER)).body) == 2


def test_the_caption_output_before_a_table_becomes_its_title() -> None:
    output = nodes.container(classes=["cell_output"])
    caption_bundle = nodes.container(nb_element="mime_bundle")
    markdown = nodes.container(mime_type="text/markdown")
    paragraph = nodes.paragraph()
    paragraph += [nodes.Text(""), nodes.strong(text="表"), nodes.Text("\u3000每个类别的测试准确率")]
    markdown += paragraph
    caption_bundle += markdown
    table_bundle = nodes.container(nb_element="mime_bundle")
    output += [caption_bundle, table_bundle]
    assert latex_tables.adopt_caption(table_bundle).astext() == "每个类别的测试准确率"
    assert list(output.children) == [table_bundle]


def test_the_caption_paragraph_before_a_cell_becomes_the_table_title() -> None:
    section = nodes.section()
    caption = nodes.paragraph()
    caption += [nodes.strong(text="表"), nodes.Text("\u3000所有比较："), nodes.literal(text="resnet20")]
    cell = nodes.container(classes=["cell"])
    bundle = nodes.container(nb_element="mime_bundle")
    cell += bundle
    section += [caption, cell]
    title = latex_tables.adopt_caption(bundle)
    assert title.astext() == "所有比较：resnet20"
    assert caption not in section.children  # the paragraph moved into the table
    lone = nodes.section()
    other = nodes.container(classes=["cell"])
    other_bundle = nodes.container(nb_element="mime_bundle")
    other += other_bundle
    lone += [nodes.paragraph(text="表格之前的正文"), other]
    assert latex_tables.adopt_caption(other_bundle) is None


def test_the_latex_document_drops_what_fights_xecjk_and_sets_chinese_headings() -> None:
    latex_book = _ext("latex_book")
    config = type("Config", (), {})()
    config.latex_theme = "jupyterBook"
    config.latex_elements = {"preamble": "\\usepackage[Latin,Greek]{ucharclasses}\n\\usepackage{unicode-math}\n"
                                         "\\addto\\captionsenglish{\\renewcommand{\\contentsname}{Contents}}\n"}
    latex_book.on_config_inited(None, config)
    preamble = config.latex_elements["preamble"]
    assert config.latex_theme == "manual" and config.latex_elements["fncychap"] == ""
    assert "ucharclasses" not in preamble and "captionsenglish" not in preamble and "unicode-math" in preamble
    assert "\\newenvironment{sphinxVerbatimOutput}" in preamble and "\\def\\@chappos{章}" in preamble


# --------------------------------------------------------------------------- numbering


def _caption(label: str, text: str) -> nodes.paragraph:
    paragraph = nodes.paragraph()
    paragraph += [nodes.Text(""), nodes.strong(text=label), nodes.Text("\u3000" + text)]
    return paragraph


def test_chapters_are_the_root_entries_across_parts_and_sections_share_them() -> None:
    includes = {"intro": ["methods/index", "setup", "results", "runs/index"],
                "methods/index": ["methods/eca", "methods/cspnet"], "runs/index": ["runs/a/b/c"]}
    chapters = numbering.chapter_numbers("intro", includes)
    assert chapters == {"intro": 0, "methods/index": 1, "methods/eca": 1, "methods/cspnet": 1, "setup": 2,
                        "results": 3, "runs/index": 4, "runs/a/b/c": 4}
    order = numbering.reading_order("intro", includes)
    assert order == ["intro", "methods/index", "methods/eca", "methods/cspnet", "setup", "results",
                     "runs/index", "runs/a/b/c"]
    items = {"methods/index": [("table", "")], "methods/eca": [("figure", ""), ("table", "t")],
             "methods/cspnet": [("figure", "f")], "results": [("figure", ""), ("figure", ""), ("table", "")]}
    numbers = numbering.assign_numbers(order, chapters, items)
    # a chapter's figures and tables count on across its sections, and restart in the next chapter
    assert numbers["methods/eca"] == [(1, 1), (1, 2)] and numbers["methods/cspnet"] == [(1, 2)]
    assert numbers["results"] == [(3, 1), (3, 2), (3, 1)]
    assert numbers["setup"] == []


def test_captioned_items_are_found_in_reading_order() -> None:
    section = nodes.section()
    figure = nodes.figure()
    figure += [nodes.image(uri="a.png"), nodes.caption(text="图题")]
    bare_figure = nodes.figure()
    bare_figure += nodes.image(uri="b.png")
    table = nodes.table()
    table += [nodes.title(text="表题"), nodes.tgroup(cols=1)]
    untitled = nodes.table()
    untitled += nodes.tgroup(cols=1)
    prose = nodes.paragraph()
    prose += [nodes.strong(text="表"), nodes.Text("是本段的第一个字，不是题注")]
    section += [_caption("表", "前面的表"), figure, bare_figure, table, untitled, _caption("图", "后面的图"),
                prose, nodes.paragraph(text="图 正文")]
    kinds = [(kind, type(node).__name__) for kind, node in numbering.caption_items(section)]
    assert kinds == [("table", "paragraph"), ("figure", "figure"), ("table", "table"),
                     ("figure", "paragraph"), ("table", "paragraph")]


def test_a_caption_paragraph_gets_its_number_in_the_caption_style() -> None:
    html = _caption("表", "所有比较：")
    html += nodes.literal(text="resnet20")
    numbering.set_caption_paragraph(html, "table", (3, 2), html=True)
    number, text = html.children
    assert number.astext() == "表 3.2 " and "caption-number" in number["classes"]
    assert text.astext() == "所有比较：resnet20" and "caption-text" in text["classes"]
    assert {"caption", "book-caption", "book-caption-table"} <= set(html["classes"])
    latex = _caption("图", "训练曲线")
    numbering.set_caption_paragraph(latex, "figure", (4, 1), html=False)
    assert latex.astext() == "图 4.1\u3000训练曲线" and isinstance(latex[0], nodes.strong)
    assert numbering.number_text("figure", (12,)) == "图 12"


def test_the_latex_tree_numbers_by_chapter_and_sets_latex_counters() -> None:
    class Env:
        config = type("Config", (), {"root_doc": "intro"})()
        toctree_includes = {"intro": ["a", "b"]}
        book_captions: dict = {}

    class App:
        env = Env()
        builder = type("Builder", (), {"format": "latex"})()

    from sphinx import addnodes

    tree = nodes.section()
    first, second = addnodes.start_of_file(docname="a"), addnodes.start_of_file(docname="b")
    figure = nodes.figure()
    figure += nodes.caption(text="x")
    table = nodes.table()
    table += nodes.title(text="t")
    second_table = nodes.table()
    second_table += nodes.title(text="u")
    first += [figure, _caption("图", "y")]
    second += [table, _caption("表", "z"), second_table]
    tree += [first, second]
    figure.parent = nodes.section()  # sphinx-jupyterbook-latex leaves parent links stale: walk down
    numbering.on_doctree_resolved(App(), tree, "intro")
    assert isinstance(first[0], nodes.raw) and first[1] is figure
    raw = [n.astext().strip() for n in tree.findall(nodes.raw)]
    keep_before, keep_after = (r"\par\needspace{6\baselineskip}", r"\par\nopagebreak")
    assert raw == [r"\renewcommand{\thefigure}{1.1}", r"\renewcommand{\thetable}{2.1}",
                   keep_before, keep_after, r"\renewcommand{\thetable}{2.3}"]
    assert [p.astext() for p in tree.findall(nodes.paragraph)] == ["图 1.2\u3000y", "表 2.2\u3000z"]
    # the table caption paragraph sits between the two, right before its table; a figure's has none
    caption = second[3]
    assert second[2].astext().strip() == keep_before and caption.astext() == "表 2.2\u3000z"
    assert second[4].astext().strip() == keep_after and second[6] is second_table  # [5]: its number
    assert not any(isinstance(n, nodes.raw) for n in first[1:])


def test_only_the_archived_run_pages_leave_the_pdf() -> None:
    assert run_appendix.is_run_page("runs/cifar10-jpeg/main/resnet20-default-s0")
    assert not run_appendix.is_run_page("runs/index") and not run_appendix.is_run_page("results")


def test_a_chapter_title_is_labelled_with_its_number_once() -> None:
    document = nodes.section()
    document += nodes.title(text="主要结果")
    numbering.label_chapter(document, 3)
    numbering.label_chapter(document, 3)
    assert document[0].astext() == "第 3 章主要结果"
    assert "chapter-number" in document[0][0]["classes"]
