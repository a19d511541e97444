"""The per-class table's layout: CIFAR-10 a model per row, CIFAR-100 a class per row under short model headers."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cifarlib.report.per_class_table import per_class_caption, per_class_styler, short_headers

MODELS = ["resnet20", "convnext_resnet20", "msca_resnet20"]


def table(classes: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.uniform(40, 95, (classes, len(MODELS))), columns=MODELS,
                         index=[f"class{i}" for i in range(classes)])
    frame.attrs["seeds"] = {"resnet20": 3, "convnext_resnet20": 1, "msca_resnet20": 1}
    return frame


def test_ten_classes_put_a_model_per_row_with_its_seed_count() -> None:
    per_class = table(10)
    shown = per_class_styler(per_class, str.upper).data
    assert list(shown.index) == MODELS and shown.index.name == "模型"
    assert list(shown.columns[:2]) == ["种子数", "CLASS0"] and shown.loc["resnet20", "种子数"] == 3
    assert "种子数：" not in per_class_caption(per_class)  # the column shows them


def test_hundred_classes_put_a_class_per_row_under_short_model_headers() -> None:
    per_class = table(100)
    shown = per_class_styler(per_class).data
    assert shown.shape == (100, 3) and shown.index.name == "类别"
    assert list(shown.columns) == ["resnet20", "convnext", "msca"]
    caption = per_class_caption(per_class)
    assert "`resnet20` 3、`convnext_resnet20` 1" in caption and "后缀 `_resnet20`" in caption


def test_best_class_is_bold_and_worst_red_per_model() -> None:
    per_class = table(100)
    html = per_class_styler(per_class).set_uuid("pc").to_html()
    rules = {cell: props for selectors, props in re.findall(r"([^{}]+)\{([^}]*)\}", html)  # pandas groups cells
             for cell in re.findall(r"#T_pc_(row\d+_col\d+)", selectors)}
    for col, model in enumerate(MODELS):
        best = per_class.index.get_loc(per_class[model].idxmax())
        worst = per_class.index.get_loc(per_class[model].idxmin())
        assert "font-weight: bold" in rules[f"row{best}_col{col}"]
        assert "color: #c0392b" in rules[f"row{worst}_col{col}"]
    assert sum("bold" in props for props in rules.values()) == len(MODELS)


def test_headers_stay_whole_when_shortening_would_mislead() -> None:
    assert short_headers(["resnet20", "eca_resnet20"]) == ({"resnet20": "resnet20", "eca_resnet20": "eca"}, "resnet20")
    mixed = ["eca_resnet20", "eca_resnet56"]  # two backbones: "eca" would name both
    assert short_headers(mixed) == ({m: m for m in mixed}, "")
    assert short_headers(["eca_resnet20_iso", "resnet20"])[1] == ""  # no shared suffix at the end
