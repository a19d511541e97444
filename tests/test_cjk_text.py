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
