"""The book's Chinese typography extension."""

from __future__ import annotations

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("cjk_text", Path(__file__).resolve().parent.parent / "book" / "_ext" / "cjk_text.py")
cjk_text = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cjk_text)


def test_soft_break_between_chinese_is_removed() -> None:
    assert cjk_text.fix_text("通道\n注意力") == "通道注意力"
    assert cjk_text.fix_text("参数，\n  随机种子") == "参数，随机种子"


def test_break_next_to_latin_stays_a_space() -> None:
    assert cjk_text.fix_text("使用\nResNet") == "使用\nResNet"
    assert cjk_text.fix_text("top-1\n准确率") == "top-1\n准确率"


def test_straight_quotes_around_chinese_become_chinese_quotes() -> None:
    assert cjk_text.fix_text('称为"挤压"操作') == "称为“挤压”操作"
    assert cjk_text.fix_text('key "value"') == 'key "value"'


def test_soft_break_node_between_chinese_is_dropped() -> None:
    from docutils import nodes

    para = nodes.paragraph()
    for child in (nodes.Text("相乘，"), nodes.Text("\n"), nodes.Text("是一种"), nodes.Text("\n"),
                  nodes.strong(text="ResNet")):
        para += child
    section = nodes.section()
    section += para
    cjk_text.on_doctree_read(None, section)
    assert para.astext() == "相乘，是一种\nResNet"


def test_break_next_to_chinese_punctuation_is_removed() -> None:
    assert cjk_text.fix_text("项）。\nMBConv 在") == "项）。MBConv 在"
    assert cjk_text.fix_text("用 MBConv\n（扩张") == "用 MBConv（扩张"
    assert cjk_text.fix_text("使用\nResNet") == "使用\nResNet"


def _para(*children) -> "object":
    from docutils import nodes

    para = nodes.paragraph()
    for child in children:
        para += child
    section = nodes.section()
    section += para
    return para


def test_the_right_soft_break_node_is_dropped_when_several_exist() -> None:
    from docutils import nodes

    # the first "\n" (Chinese next to Latin) stays; the second (after 。) goes
    para = _para(nodes.Text("在全部"), nodes.Text("\n"), nodes.Text("64 个，偏置表 "), nodes.math(text="x"),
                 nodes.Text(" 项）。"), nodes.Text("\n"), nodes.Text("每阶段"))
    cjk_text.on_doctree_read(None, para.parent)
    assert para.astext() == "在全部\n64 个，偏置表 x 项）。每阶段"


def test_quotes_spanning_nodes_become_chinese_quotes() -> None:
    from docutils import nodes

    para = _para(nodes.Text('用"深度卷积 '), nodes.literal(text="dw"), nodes.Text(' 相乘"的门控，"key"'))
    cjk_text.on_doctree_read(None, para.parent)
    assert para.astext() == '用“深度卷积 dw 相乘”的门控，"key"'


def test_break_before_markup_after_an_empty_text_node_is_removed() -> None:
    from docutils import nodes

    # MyST leaves an empty Text between a line break and bold text: "变化、\n**感受野大**"
    para = _para(nodes.Text("变化、"), nodes.Text("\n"), nodes.Text(""), nodes.strong(text="感受野大"))
    cjk_text.on_doctree_read(None, para.parent)
    assert para.astext() == "变化、感受野大"


def test_break_after_a_quote_curled_to_chinese_is_removed() -> None:
    from docutils import nodes

    para = _para(nodes.Text('相似的"冗余"'), nodes.Text("\n"), nodes.Text("通道"))
    cjk_text.on_doctree_read(None, para.parent)
    assert para.astext() == "相似的“冗余”通道"


def test_spaces_at_the_edges_of_markup_between_chinese_are_removed() -> None:
    from docutils import nodes

    ref = nodes.reference(text="主要结果")
    para = _para(nodes.Text("（由 "), ref, nodes.Text(" 与 "), nodes.reference(text="消融实验"),
                 nodes.Text(" 所用）；是 "), nodes.strong(text="猫"), nodes.Text("（59.6%）"))
    cjk_text.on_doctree_resolved(None, para.parent)
    assert para.astext() == "（由主要结果与消融实验所用）；是猫（59.6%）"


def test_spaces_next_to_latin_code_math_and_inside_text_stay() -> None:
    from docutils import nodes

    para = _para(nodes.Text("用 "), nodes.literal(text="eca_resnet20"), nodes.Text(" 与 "),
                 nodes.math(text="k"), nodes.Text(" 的值，约 20 万 张，见 "), nodes.reference(text="ResNet"),
                 nodes.Text(" 一节"))
    cjk_text.on_doctree_resolved(None, para.parent)
    assert para.astext() == "用 eca_resnet20 与 k 的值，约 20 万 张，见 ResNet 一节"
