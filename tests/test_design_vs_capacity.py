"""Design or capacity: the side-by-side reading of as-designed and iso-parameter differences."""

import math

import pandas as pd
import pytest

from cifarlib.report.design_vs_capacity import design_display, design_pairs, design_sentence, reading
from cifarlib.report.ablations import ABLATION_COLUMNS


def _table(rows):
    """An ``ablation_table``-shaped frame: the reference, then arms (label, diff, low, high, pairs)."""
    out = [dict.fromkeys(ABLATION_COLUMNS, math.nan) | {"label": "resnet20", "role": "reference", "pairs": 0}]
    out += [dict.fromkeys(ABLATION_COLUMNS, math.nan) | {"label": l, "role": "arm", "diff": d, "ci_low": lo,
                                                         "ci_high": hi, "pairs": n, "significant": lo > 0 or hi < 0}
            for l, d, lo, hi, n in rows]  # NaN bounds compare False: not significant, as stats.significant says
    return pd.DataFrame(out, columns=ABLATION_COLUMNS)


DESIGNED = _table([("csp_resnet20", -5.1, -5.6, -4.6, 3), ("ghost_resnet20", -3.3, -4.6, -2.0, 3),
                   ("eca_resnet20", -0.8, -1.9, 0.2, 3), ("mixer_resnet20", -1.0, math.nan, math.nan, 1)])
ISO = _table([("csp_resnet20_iso", -0.1, -1.1, 0.8, 3), ("ghost_resnet20_iso", -2.0, -2.9, -1.1, 3),
              ("eca_resnet20_iso", -0.8, -1.9, 0.2, 3), ("mixer_resnet20_iso", -1.8, -3.0, -0.6, 2),
              ("lsk_resnet20_iso", 0.3, -0.5, 1.1, 3)])
PARAMS = {"csp_resnet20": 0.105, "csp_resnet20_iso": 0.271, "ghost_resnet20": 0.148}


def test_pairs_join_each_graft_with_its_iso_version() -> None:
    pairs = design_pairs(DESIGNED, ISO, PARAMS).set_index("model")
    assert list(pairs.index) == ["csp_resnet20", "ghost_resnet20", "eca_resnet20", "mixer_resnet20"]  # lsk: no designed arm
    assert pairs.loc["csp_resnet20", "params_designed"] == 0.105 and pairs.loc["csp_resnet20", "params_iso"] == 0.271
    assert pairs.loc["csp_resnet20", "diff_iso"] == -0.1


def test_reading_follows_the_two_intervals() -> None:
    pairs = design_pairs(DESIGNED, ISO, PARAMS).set_index("model")
    assert reading(pairs.loc["csp_resnet20"]).startswith("差距来自参数量")
    assert reading(pairs.loc["ghost_resnet20"]).startswith("等参数后仍显著更低")
    assert reading(pairs.loc["eca_resnet20"]) == "两种形式都没有显著更低"
    assert reading(pairs.loc["mixer_resnet20"]) == "种子不足，暂不下结论"  # one designed seed: no interval


def test_display_and_sentence_name_every_graft() -> None:
    pairs = design_pairs(DESIGNED, ISO, PARAMS)
    shown = design_display(pairs)
    assert shown.loc[0, "原设计：差 [95% CI]"] == "-5.10 [-5.60, -4.60]（3 对）"
    assert shown.loc[2, "原设计参数（百万）"] == "—"
    text = design_sentence(pairs)
    assert "差距来自参数量：等参数后无可检测差异：`csp_resnet20`" in text
    assert "`mixer_resnet20`" in text
    assert design_sentence(pairs.iloc[0:0]).startswith("还没有")


def test_design_params_read_the_main_default_records_only() -> None:
    from cifarlib.report.design_vs_capacity import design_params

    runs = pd.DataFrame([
        {"experiment": "ablation_ghost_ratio", "model": "ghost_resnet20", "variant": "r3", "params_m": 0.102},
        {"experiment": "main", "model": "ghost_resnet20", "variant": "default", "params_m": 0.142},
        {"experiment": "main_iso", "model": "ghost_resnet20_iso", "variant": "default", "params_m": 0.27},
        {"experiment": "ablation_layer_scale", "model": "x_iso", "variant": "ls1", "params_m": 9.0},
    ])
    assert design_params(runs) == {"ghost_resnet20": 0.142, "ghost_resnet20_iso": 0.27}
    clash = pd.concat([runs, runs.iloc[[1]].assign(params_m=0.2)])
    with pytest.raises(ValueError, match="ghost_resnet20"):
        design_params(clash)


def test_real_design_table_parameters_match_the_main_records() -> None:
    """The committed records: ghost_resnet20's column is main's 0.142M record, not the s=3 arm."""
    from cifarlib.report import study_plan
    from cifarlib.report.design_vs_capacity import design_params
    from cifarlib.results import load_runs

    runs = study_plan.study_runs(load_runs(), study_plan.planned_runs("study"))
    params = design_params(runs)
    main = runs[(runs["experiment"] == "main") & (runs["variant"] == "default")]
    for model, value in main.groupby("model")["params_m"].first().items():
        assert params[model] == value
