"""The recipe evidence table: every (variant, view) against the plain base recipe, paired by seed."""

from __future__ import annotations

import math

import pytest

from cifarlib.report.recipe_evidence import recipe_display, recipe_scores, recipe_table


def _detail(variant: str, seed: int, views: dict[str, float], experiment: str = "recipe") -> dict:
    return {"experiment": experiment, "variant": variant, "seed": seed, "eval_views": views,
            "wall_time_s": 600.0}


DETAILS = [
    # base: plain 84.0 / 84.4; flip adds +0.6 and +0.8 (paired, sd of the differences 0.141)
    _detail("base", 0, {"model": 84.0, "model+flip": 84.6, "ema": 84.1, "ema+flip": 84.7}),
    _detail("base", 1, {"model": 84.4, "model+flip": 85.2, "ema": 84.3, "ema+flip": 85.1}),
    _detail("bs64", 0, {"model": 85.1, "model+flip": 85.7}),
    _detail("bs64", 1, {"model": 85.3, "model+flip": 86.1}),
    _detail("base", 0, {"model": 10.0}, experiment="other"),  # another experiment: ignored
]


def test_every_view_is_compared_with_the_plain_base_recipe_paired_by_seed() -> None:
    table = recipe_table(recipe_scores(DETAILS)).set_index(["variant", "view"])
    assert len(table) == 6
    assert table.loc[("base", "model"), "seeds"] == 2 and math.isnan(table.loc[("base", "model"), "diff"])
    flip = table.loc[("base", "model+flip")]
    assert flip["diff"] == pytest.approx(0.7)
    # t(0.975, 1) = 12.706; half width = 12.706 * 0.1414 / sqrt(2) = 1.2706
    assert flip["low"] == pytest.approx(0.7 - 1.2706, abs=1e-3) and not flip["significant"]
    assert table.loc[("bs64", "model+flip"), "all_reach_target"]
    assert not table.loc[("base", "model+flip"), "all_reach_target"]  # seed 0 is at 84.6
    assert table.loc[("bs64", "model"), "diff"] == pytest.approx(1.0)


def test_display_is_chinese_and_rounded() -> None:
    shown = recipe_display(recipe_table(recipe_scores(DETAILS)))
    assert "评估方式" in shown.columns and "训练权重 + 翻转 TTA" in set(shown["评估方式"])
    assert "（参照）" in set(shown["相对参照的差（95% CI）"])
    assert "84.20 ± 0.28" in set(shown["top-1 (%)"])


def test_no_recipe_records_give_an_empty_table() -> None:
    assert recipe_table(recipe_scores([])).empty


def test_sentence_names_the_reference_the_significant_and_who_reaches_the_target() -> None:
    from cifarlib.report.recipe_evidence import recipe_sentence

    text = recipe_sentence(recipe_table(recipe_scores(DETAILS)))
    assert "参照（base 配方 + 训练权重）在 2 个种子上为 84.20%" in text
    assert "每个种子都达到 85% 的组合：bs64 配方 + 训练权重、bs64 配方 + 训练权重 + 翻转 TTA" in text
    assert "显著更低" not in text
    assert recipe_sentence(recipe_table(recipe_scores([]))).startswith("（")


def test_one_shared_seed_gives_no_interval_and_the_sentence_says_so() -> None:
    from cifarlib.report.recipe_evidence import recipe_sentence

    text = recipe_sentence(recipe_table(recipe_scores(DETAILS[:1])))
    assert "3 个组合与参照只共有 1 个种子，没有区间" in text and "跨过 0" not in text
