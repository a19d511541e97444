"""The study's comparisons as one family: p-values, Holm's correction and repeated comparisons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cifarlib.report.comparison_family import (comparison_family, family_counts, family_display, family_headline,
                                        family_sentence, repeats_sentence, study_comparisons)
from cifarlib.report.ablations import ablation_table, main_ablation
from cifarlib.models.iso import same_model
from cifarlib.report.stats import holm_adjust, paired_difference, t_central_mass, t_quantile


@pytest.mark.parametrize("df, t", [(1, 12.7062), (2, 4.3027), (3, 3.1824), (4, 2.7764), (5, 2.5706), (30, 2.0423)])
def test_central_mass_at_the_tabled_quantiles_is_95_percent(df: int, t: float) -> None:
    assert t_central_mass(t, df) == pytest.approx(0.95, abs=2e-5)
    assert t_central_mass(-t, df) == t_central_mass(t, df) and t_central_mass(0.0, df) == 0.0


def test_central_mass_has_the_closed_forms_of_one_and_two_degrees_of_freedom() -> None:
    for t in (0.3, 1.0, 7.5):
        assert t_central_mass(t, 1) == pytest.approx(2 / math.pi * math.atan(t))  # Cauchy
        assert t_central_mass(t, 2) == pytest.approx(t / math.sqrt(2 + t * t))
    with pytest.raises(ValueError, match="integer df"):
        t_central_mass(1.0, 0)


def test_p_value_below_5_percent_exactly_when_the_interval_excludes_zero() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 6))
        treated = {s: float(v) for s, v in enumerate(rng.normal(0.5, 1.0, n))}
        interval = paired_difference(treated, dict.fromkeys(range(n), 0.0))
        assert (interval.p_value < 0.05) == interval.significant
    assert paired_difference({0: 2.0, 1: 2.0}, {0: 1.0, 1: 1.0}).p_value == 0.0  # no spread, non-zero mean
    assert math.isnan(paired_difference({0: 2.0}, {0: 1.0}).p_value)


def test_holm_multiplies_the_smallest_p_by_m_and_stays_monotone() -> None:
    adjusted = holm_adjust([0.01, 0.04, math.nan, 0.03, 0.005])
    assert adjusted[:2] + adjusted[3:] == pytest.approx([0.03, 0.06, 0.06, 0.02])  # 4*.005, 3*.01, max(2*.03, .04)
    assert math.isnan(adjusted[2])
    assert holm_adjust([0.9, 0.8]) == [1.0, 1.0] and holm_adjust([]) == []


def test_same_model_resolves_only_the_identical_iso_entry() -> None:
    assert same_model("eca_resnet20_iso") == "eca_resnet20"  # width 1.0, no switches: the same network
    assert same_model("ghost_resnet20_iso") == "ghost_resnet20_iso"
    assert same_model("resnet20") == "resnet20"


def _runs(arms: dict[tuple[str, str, str], list[float]]) -> pd.DataFrame:
    rows = [{"experiment": e, "model": m, "variant": v, "seed": s, "test_top1": top1}
            for (e, m, v), values in arms.items() for s, top1 in enumerate(values)]
    return pd.DataFrame(rows)


RUNS = _runs({
    ("main", "resnet20", "default"): [80.0, 81.0, 82.0],
    ("main", "eca_resnet20", "default"): [79.0, 81.5, 81.2],       # -0.43, crossing 0
    ("main", "csp_resnet20", "default"): [75.0, 76.1, 76.9],       # -5: significant, tiny spread
    ("main_iso", "eca_resnet20_iso", "default"): [79.0, 81.5, 81.2],  # the same network as eca_resnet20
    ("main_iso", "ghost_resnet20_iso", "default"): [79.5, 80.3, 81.6],  # -0.53, spread 0.2: p ~ 0.03
    ("main_iso", "coat_resnet20_iso", "default"): [77.0],          # one seed: no interval
    ("ablation_eca_k", "eca_resnet20", "k7"): [79.8, 82.0, 82.3],  # +0.8 over eca, spread 0.3: p ~ 0.04
})


def test_family_counts_a_repeated_comparison_once() -> None:
    family = comparison_family(study_comparisons(RUNS))
    repeats = family[family["same_as"] != ""]
    # eca_resnet20 is eca_resnet20_iso at width 1.0 (the headline main_iso comes first); ECA on/off
    # is main's eca_resnet20 again
    assert sorted(repeats["label"]) == ["eca_resnet20", "开（eca_resnet20）"]
    assert (repeats["same_as"] == "main_iso（对 resnet20）中的 eca_resnet20_iso").all()
    counts = family_counts(family)
    assert counts["n"] == 5 and counts["n_ci"] == 4  # eca_iso, ghost_iso, csp, k7 (+ coat without an interval)
    first = family[family["label"] == "eca_resnet20_iso"].iloc[0]
    # one comparison, one verdict: the repeats show the headline's analysis and Holm p, not their own
    for column in ("holm_p", "ci_low", "ci_high", "p_value", "df"):
        assert (repeats[column] == first[column]).all(), column
    main_eca = ablation_table(RUNS, [], main_ablation(RUNS, experiment="main", reference_experiment="main"))
    own = main_eca[main_eca["label"] == "eca_resnet20"].iloc[0]
    assert own["ci_low"] != first["ci_low"]  # main's own block model pools other arms: a different interval


def test_a_repeat_on_other_runs_is_its_own_comparison() -> None:
    runs = RUNS.copy()
    runs.loc[(runs["experiment"] == "main") & (runs["model"] == "eca_resnet20"), "test_top1"] += 0.5
    family = comparison_family(study_comparisons(runs))
    main_eca = family[family["label"] == "eca_resnet20"].iloc[0]
    assert main_eca["same_as"] == "" and family_counts(family)["n"] == 6


def test_holm_keeps_the_strong_call_and_demotes_the_marginal_one() -> None:
    family = comparison_family(study_comparisons(RUNS)).set_index("label")
    p = family.loc[["csp_resnet20", "eca_resnet20", "ghost_resnet20_iso", "k=7"], "p_value"]
    expected = holm_adjust(list(p))
    assert list(family.loc[p.index, "holm_p"]) == pytest.approx(expected)
    assert family.loc["csp_resnet20", "significant"] and family.loc["csp_resnet20", "holm_significant"]
    assert family.loc["k=7", "significant"]  # alone it excludes 0 ...
    assert not family.loc["k=7", "holm_significant"]  # ... but not among four
    assert math.isnan(family.loc["coat_resnet20_iso", "holm_p"])
    text = family_sentence(family.reset_index())
    assert "4 个有区间的比较" in text and "csp_resnet20" in text.split("单独看显著")[0]
    assert "k=7" in text.split("单独看显著")[1]


def test_the_block_model_pools_the_reference_spread_the_paired_t_misses() -> None:
    """ghost_resnet20_iso's seeds follow resnet20's closely: the paired t (df 2) calls it lower,
    the block model over main_iso's arms (resnet20, eca_iso, ghost_iso; coat lacks seeds) does not."""
    family = comparison_family(study_comparisons(RUNS)).set_index("label")
    ghost = family.loc["ghost_resnet20_iso"]
    assert ghost["t_high"] < 0 and ghost["t_p"] < 0.05
    assert ghost["test"] == "区组模型" and ghost["df"] == 4 and not ghost["significant"]
    assert family.loc["coat_resnet20_iso", "test"] == "配对 t" and family.loc["coat_resnet20_iso", "df"] == 0
    assert family.loc["k=7", "df"] == 2  # two arms: the block model is the paired t
    assert "`csp_resnet20`（-5.00" in family_headline(family.reset_index())


def test_family_display_says_which_calls_survive() -> None:
    shown = family_display(comparison_family(study_comparisons(RUNS))).set_index("设置")
    assert shown.loc["csp_resnet20", "校正后"] == "仍显著"
    assert shown.loc["k=7", ["单独看", "校正后"]].tolist() == ["显著更高", "不再显著"]
    assert shown.loc["ghost_resnet20_iso", ["单独看", "方法"]].tolist() == ["跨过 0", "区组模型（自由度 4）"]
    assert shown.loc["eca_resnet20_iso", ["单独看", "校正后"]].tolist() == ["跨过 0", "不显著"]
    assert shown.loc["coat_resnet20_iso", ["单独看", "p", "校正后"]].tolist() == ["仅 1 对种子", "—", "—"]
    assert shown.loc["eca_resnet20", "校正后"] == "重复"
    assert repeats_sentence(comparison_family(study_comparisons(RUNS))).startswith(
        "标为“重复”的行与前面某一行是同一比较（同一模型对同一参考、同一批运行），只计一次，区间与校正沿用前一行："
        "`main`（对 `resnet20`）中的 `eca_resnet20` 就是 `main_iso`（对 `resnet20`）中的 `eca_resnet20_iso`")


def test_model_names_are_set_as_code_once_and_whole() -> None:
    from cifarlib.report.comparison_family import code_model_names

    assert code_model_names("main_iso（对 resnet20）中的 eca_resnet20_iso") == \
        "`main_iso`（对 `resnet20`）中的 `eca_resnet20_iso`"
    assert code_model_names("`resnet20` 与 k=7、domain") == "`resnet20` 与 k=7、domain"  # no double ticks
    assert code_model_names("resnet20x") == "resnet20x"  # not a registered name


def test_a_label_starting_with_han_gets_no_space() -> None:
    from cifarlib.report.comparison_family import _row_name

    assert _row_name("ECA 开 / 关", "开（eca_resnet20）") == "ECA 开 / 关中的开（eca_resnet20）"
    assert _row_name("Ghost 比例", "s=4") == "Ghost 比例中的 s=4"
    assert _row_name("层缩放初值", "γ₀=1") == "层缩放初值中的 γ₀=1"


def test_too_few_intervals_need_no_correction() -> None:
    family = comparison_family(study_comparisons(RUNS.iloc[:0]))
    assert family.empty and family_headline(family) == "" and "不需要" in family_sentence(family)


def test_unconfirmed_lists_the_calls_holm_takes_back() -> None:
    from cifarlib.report.comparison_family import unconfirmed

    assert unconfirmed(comparison_family(study_comparisons(RUNS))) == ["k=7"]
