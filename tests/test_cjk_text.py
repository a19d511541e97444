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
