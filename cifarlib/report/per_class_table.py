"""The per-class chapter's accuracy table, laid out so it fits the page for any number of classes.

CIFAR-10 (up to :data:`MAX_CLASS_COLUMNS` classes) gets a model per row and a class per column, which
fits however many models there are. CIFAR-100 cannot have a column per class, so it gets a class per
row and a model per column. Eleven full graft names side by side are wider than the page (about 100 px
at a 1280-px window), so those headers drop the backbone suffix the grafts share (``eca_resnet20`` is
shown as ``eca``) and the caption says so.
"""
from __future__ import annotations

import re
from typing import Callable

import pandas as pd
from pandas.io.formats.style import Styler

MAX_CLASS_COLUMNS = 12
WORST_COLOUR = "#c0392b"
_BACKBONE_SUFFIX = re.compile(r"_(resnet\d+)$")


def short_headers(models: list[str]) -> tuple[dict[str, str], str]:
    """Column headers without the backbone suffix the grafts share, and that suffix ("" when the
    models have no single shared suffix or shortening would make two headers equal)."""
    suffixes = {m.group(1) for name in models if (m := _BACKBONE_SUFFIX.search(name))}
    short = {name: _BACKBONE_SUFFIX.sub("", name) for name in models}
    if len(suffixes) != 1 or len(set(short.values())) < len(models):
        return {name: name for name in models}, ""
    return short, suffixes.pop()


def per_class_caption(per_class: pd.DataFrame) -> str:
    """The Chinese Markdown caption of :func:`per_class_styler`'s table: where no column shows them,
    the seed counts, and the suffix the headers left out."""
    text = "**表**　每个类别的测试准确率（%，种子平均；粗体为该模型最好的类别，红色为最差的类别"
    if len(per_class) > MAX_CLASS_COLUMNS:
        text += "；各模型的种子数：" + "、".join(f"`{m}` {n}" for m, n in per_class.attrs["seeds"].items())
        if suffix := short_headers(list(per_class.columns))[1]:
            text += f"；列名省去了嫁接模型共同的后缀 `_{suffix}`"
    return text + "）。"


def per_class_styler(per_class: pd.DataFrame, class_name: Callable[[str], str] = str) -> Styler:
    """:func:`cifarlib.report.per_class_accuracy.per_class_means`'s table (rows = classes, columns = models) as the book
    shows it: one decimal, each model's best class bold and worst class red, class names through
    ``class_name`` (the book passes the Chinese names)."""
    seeds = per_class.attrs["seeds"]
    by_class = per_class.rename(index=class_name)
    if len(by_class) <= MAX_CLASS_COLUMNS:  # a model per row, a class per column
        shown = by_class.T
        shown.insert(0, "种子数", [seeds[m] for m in shown.index])
        shown.index.name = "模型"
        values, axis = list(by_class.index), 1
    else:  # a class per row, a model per column under a short header
        shown = by_class.rename(columns=short_headers(list(by_class.columns))[0])
        shown.index.name = "类别"
        values, axis = list(shown.columns), 0
    return (shown.style.format("{:.1f}", subset=values)
            .highlight_max(axis=axis, subset=values, props="font-weight: bold")
            .highlight_min(axis=axis, subset=values, props=f"color: {WORST_COLOUR}"))
