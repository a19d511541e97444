"""The detectable difference and the reference-spread sentence, on fabricated tables and runs."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cifarlib.report.ablations import Ablation, Arm, ablation_table
from cifarlib.report.sensitivity import block_summary, detectable_sentence, reference_spread_sentence
from cifarlib.report.stats import detectable_difference

REF = Arm("main", "resnet20", "default", "resnet20")


def _runs() -> pd.DataFrame:
    values = {"resnet20": [80.0, 80.01, 80.0], "a": [79.0, 79.6, 78.9], "b": [78.0, 78.9, 78.2],
              "c": [81.0, 80.5, 81.4]}
    return pd.DataFrame([{"experiment": "main", "model": m, "variant": "default", "seed": s, "test_top1": v}
                         for m, vs in values.items() for s, v in enumerate(vs)])


def _table() -> pd.DataFrame:
    ablation = Ablation("main", "main", REF, tuple(Arm("main", m, "default", m) for m in "abc"))
    return ablation_table(_runs(), [], ablation)


def test_block_summary_uses_the_pooled_residual() -> None:
    s = block_summary(_table())
    assert s["df"] == 6 and s["seeds"] == 3
    assert s["block"] == pytest.approx(detectable_difference(s["resid_sd"], 3, 6))
    assert s["paired"] == pytest.approx(detectable_difference(s["resid_sd"], 3, 2)) and s["paired"] > s["block"]
    text = detectable_sentence(_table(), 4, "主比较")
    assert f"**{s['block']:.1f}**" in text and "自由度 6" in text and "自由度 2" in text


def test_no_block_fit_says_so() -> None:
    runs = _runs()[lambda r: r["seed"] == 0]
    ablation = Ablation("main", "main", REF, (Arm("main", "a", "default", "a"),))
    assert block_summary(ablation_table(runs, [], ablation)) is None
    assert "无法估计" in detectable_sentence(ablation_table(runs, [], ablation), 10, "主比较")


def test_reference_spread_sentence_reports_the_chance() -> None:
    text = reference_spread_sentence(_runs(), REF, ("main",))
    assert "0.006" in text and "万分之" in text and "区组模型" in text
    assert reference_spread_sentence(_runs()[lambda r: r["seed"] == 0], REF, ("main",)) == ""


def test_pooling_sentence_names_the_arm_that_dominates_the_residual() -> None:
    import pandas as pd

    from cifarlib.report.ablations import Ablation, Arm
    from cifarlib.report.sensitivity import pooling_sentence
    from cifarlib.report.stats import residual_shares

    quiet = {"ref": {0: 70.0, 1: 70.1, 2: 69.9}, "a": {0: 71.0, 1: 71.2, 2: 70.9}, "b": {0: 69.0, 1: 69.05, 2: 68.9}}
    noisy = {**quiet, "c": {0: 60.0, 1: 62.5, 2: 58.0}}
    shares = residual_shares(noisy, "ref")
    assert sum(shares.values()) == pytest.approx(1.0) and max(shares, key=shares.get) == "c"
    rows = [{"experiment": "e", "model": m, "variant": "default", "seed": s, "test_top1": v}
            for m, seeds in noisy.items() for s, v in seeds.items()]
    ablation = Ablation("e", "e", Arm("e", "ref", "default", "ref"), tuple(Arm("e", m, "default", m) for m in "abc"))
    text = pooling_sentence(pd.DataFrame(rows), ablation)
    assert "`c` 一个就占了残差平方和的" in text and "去掉它则为" in text
    # pooled with c, a (+1.07) and b (-0.98) cross 0; without it both are clear of 0
    assert "不合并 `c` 时，`a`（[+" in text and "、`b`（[-" in text and "的区间不再跨过 0" in text
    calm = Ablation("e", "e", ablation.reference, ablation.arms[:2])
    assert pooling_sentence(pd.DataFrame(rows), calm) == ""  # no arm dominates: nothing to say
