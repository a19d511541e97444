"""Two budgets side by side, on fabricated 4- and 10-epoch records."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cifarlib.report.two_budgets import budgets_sentence, rank_correlation, side_by_side, side_by_side_display

SEED = np.array([0.0, 0.3, -0.2])


def _records(shift: dict[str, float], experiments: tuple[str, str], base: float, noise: float = 0.05,
             convnext_variant: str = "default") -> list[dict]:
    rng = np.random.default_rng(len(experiments[0]))
    rows = []
    for model, d in shift.items():
        experiment = experiments[0] if model == "resnet20" else experiments[1]
        variant = convnext_variant if model.startswith("convnext") else "default"
        rows += [{"experiment": experiment, "model": model, "variant": variant, "seed": s,
                  "test_top1": base + d + SEED[s] + float(rng.normal(0, noise))} for s in range(3)]
    return rows


FOUR = {"resnet20": 0.0, "eca_resnet20_iso": -0.8, "csp_resnet20_iso": -0.1, "mixer_resnet20_iso": -2.1,
        "hor_resnet20_iso": -1.2, "convnext_resnet20_iso": -34.0}
TEN = {"resnet20": 0.0, "eca_resnet20_iso": 0.5, "csp_resnet20_iso": -0.1, "mixer_resnet20_iso": -2.5,
       "hor_resnet20_iso": -1.0, "convnext_resnet20_iso": -1.5}
# the 4-epoch ConvNeXt headline is ablation_layer_scale's gamma0 = 1 run, not main_iso's paper init
LAYER_SCALE_1 = [dict(r, experiment="ablation_layer_scale") for r in
                 _records({"convnext_resnet20_iso": -14.0}, ("main", "main_iso"), 77.6, convnext_variant="ls1")]
RUNS = pd.DataFrame(_records(FOUR, ("main", "main_iso"), 77.6) + LAYER_SCALE_1
                    + _records(TEN, ("main_e10", "main_iso_e10"), 83.4, convnext_variant="ls1"))


def test_each_graft_at_both_budgets_and_whether_its_call_holds() -> None:
    table = side_by_side(RUNS).set_index("model")
    assert table.loc["mixer_resnet20_iso", ["call_4", "call_10"]].tolist() == ["更低", "更低"]
    assert table.loc["mixer_resnet20_iso", "holds"]
    assert table.loc["eca_resnet20_iso", ["call_4", "call_10", "holds"]].tolist() == ["更低", "更高", False]
    assert table.loc["csp_resnet20_iso", "call_10"] == "跨过 0"
    assert table.loc["convnext_resnet20_iso", ["variant_4", "variant_10"]].tolist() == ["ls1", "ls1"]
    assert table.loc["convnext_resnet20_iso", "diff_4"] == pytest.approx(-14.0, abs=0.3)  # not the paper init's -34
    assert table.loc["mixer_resnet20_iso", "diff_10"] == pytest.approx(-2.5, abs=0.2)
    shown = side_by_side_display(side_by_side(RUNS))
    assert "convnext_resnet20_iso（ls1）" in list(shown["等参数嫁接"])


def test_rank_correlation_with_a_bootstrap_over_seeds() -> None:
    corr = rank_correlation(RUNS, resamples=300)
    four = pd.Series({**FOUR, "convnext_resnet20_iso": -14.0}).rank()
    ten = pd.Series(TEN).rank()
    assert corr.rho == pytest.approx(float(np.corrcoef(four[list(corr.arms)], ten[list(corr.arms)])[0, 1]))
    assert len(corr.arms) == 6 and corr.low <= corr.rho <= corr.high
    assert rank_correlation(RUNS[RUNS["experiment"].isin(["main", "main_iso"])]) is None


def test_sentence_names_what_holds_and_the_convnext_init() -> None:
    text = budgets_sentence(side_by_side(RUNS), rank_correlation(RUNS, resamples=200))
    assert "Spearman" in text and "`mixer_resnet20_iso`（更低）" in text
    assert "`eca_resnet20_iso`（4 轮更低，10 轮更高）" in text
    assert "`convnext_resnet20_iso` 在两个预算下都使用层缩放初值 γ₀=1" in text
    four_only = RUNS[RUNS["experiment"].isin(["main", "main_iso"])]
    assert budgets_sentence(side_by_side(four_only), None) == "10 轮预算还没有可比较的记录。"
    assert (side_by_side(four_only)["call_10"] == "无记录").all()


def test_layer_scale_at_each_budget() -> None:
    from cifarlib.report.two_budgets import layer_scale_by_budget, layer_scale_sentence

    four_only = layer_scale_by_budget(RUNS)  # paper init -34, gamma0 = 1 -14: about -20 at 4 epochs
    assert list(four_only["epochs"]) == [4] and four_only["diff"].iloc[0] == pytest.approx(-20.0, abs=0.5)
    assert four_only["call"].iloc[0] == "更低"
    assert "尚无记录" in layer_scale_sentence(four_only)
    paper_e10 = [dict(r, experiment="ablation_layer_scale_e10", variant="default", test_top1=r["test_top1"] - 3.0)
                 for r in RUNS[(RUNS["experiment"] == "main_iso_e10") & (RUNS["variant"] == "ls1")].to_dict("records")]
    both = layer_scale_by_budget(pd.concat([RUNS, pd.DataFrame(paper_e10)]))
    assert list(both["epochs"]) == [4, 10] and both["diff"].iloc[1] == pytest.approx(-3.0)
    text = layer_scale_sentence(both)
    assert "4 轮时为 -19.99" in text and "10 轮时为 -3.00" in text and "尚无记录" not in text
    assert layer_scale_sentence(layer_scale_by_budget(RUNS.iloc[0:0])) == ""


def test_budgets_are_the_plans_epochs() -> None:
    """The module's two budgets (its sentences and columns name them) are the presets' epochs."""
    from cifarlib.report.recipe_line import planned_config
    from cifarlib.report.two_budgets import BUDGETS

    for epochs, (reference, arms) in BUDGETS.items():
        preset = "study" if epochs == min(BUDGETS) else "study_e10"
        assert planned_config(preset, reference)["epochs"] == planned_config(preset, arms)["epochs"] == epochs


def test_layer_scale_sentence_at_one_budget_says_the_long_arm_is_queued() -> None:
    import pandas as pd

    from cifarlib.report.two_budgets import SHORT, LONG, layer_scale_sentence

    one = pd.DataFrame([{"epochs": SHORT, "pairs": 3, "diff": -19.87, "low": -22.4, "high": -17.3, "call": "更低"}])
    text = layer_scale_sentence(one)
    assert f"{SHORT} 轮时为 -19.87 个百分点" in text and f"{LONG} 轮预算下论文初值的对照" in text and "队列中" in text
    both = pd.concat([one, one.assign(epochs=LONG, diff=-3.0)])
    assert "队列中" not in layer_scale_sentence(both)
