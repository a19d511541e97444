"""Seed statistics and intervals with known answers, and the study tables on fabricated seeds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from cifarlib.report.tables import comparison_table, summary_table
from cifarlib.results import load_runs
from cifarlib.report.stats import (Interval, bootstrap_difference, mean_sd, paired_difference, significant,
                            t_quantile, verdict)
from multiseed import fabricate_results  # tests/multiseed.py (pytest puts tests/ on sys.path)


@pytest.mark.parametrize("df, expected", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (10, 2.2281), (30, 2.0423)])
def test_t_quantile_matches_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=2e-4)


def test_mean_sd_is_sample_sd_and_nan_for_one_value() -> None:
    assert mean_sd([80.0, 82.0, 84.0]) == (82.0, 2.0)
    mean, sd = mean_sd([81.0])
    assert mean == 81.0 and math.isnan(sd)
    with pytest.raises(ValueError, match="at least one"):
        mean_sd([])


def test_paired_difference_uses_only_shared_seeds_and_t_interval() -> None:
    treated = {0: 81.0, 1: 83.0, 2: 82.0, 7: 99.0}
    reference = {0: 80.0, 1: 81.0, 2: 81.0}
    ci = paired_difference(treated, reference)  # differences 1, 2, 1: mean 4/3, sd 1/sqrt(3)
    half = 4.302653 * (1 / math.sqrt(3)) / math.sqrt(3)
    assert ci.n == 3 and ci.estimate == pytest.approx(4 / 3)
    assert (ci.low, ci.high) == pytest.approx((4 / 3 - half, 4 / 3 + half), abs=1e-5)
    # every seed favours the treated model, yet 3 seeds cannot exclude 0: 1.333 +- 1.434
    assert ci.low < 0 and not ci.significant


def test_interval_crossing_zero_is_not_significant() -> None:
    ci = paired_difference({0: 81.0, 1: 80.0, 2: 82.0}, {0: 80.0, 1: 81.0, 2: 81.0})  # 1, -1, 1
    assert ci.low < 0 < ci.high and not significant(ci)
    assert verdict(ci) == "区间跨过 0，无可检测差异"
    assert significant(Interval(-1.0, -1.5, -0.5, 3)) and verdict(Interval(-1.0, -1.5, -0.5, 3)) == "显著更低"


def test_one_seed_gives_no_interval() -> None:
    ci = paired_difference({0: 82.0}, {0: 80.0})
    assert ci.estimate == 2.0 and math.isnan(ci.low) and not significant(ci)
    assert "1 个种子" in verdict(ci)
    with pytest.raises(ValueError, match="no seed is shared"):
        paired_difference({1: 1.0}, {0: 1.0})


def test_bootstrap_over_images_brackets_the_difference() -> None:
    rng = np.random.default_rng(1)
    reference = rng.random(4000) < 0.80
    treated = reference.copy()
    flip = rng.choice(4000, 200, replace=False)  # 200 images fixed -> +5 points at most
    treated[flip] = True
    ci = bootstrap_difference(treated, reference)
    expected = (treated.mean() - reference.mean()) * 100
    assert ci.estimate == pytest.approx(expected) and ci.low < expected < ci.high
    assert significant(ci)
    same = bootstrap_difference(reference, reference)
    assert same.estimate == 0.0 and not significant(same)
    with pytest.raises(ValueError, match="equal-length"):
        bootstrap_difference([True], [True, False])


@pytest.fixture(scope="module")
def fabricated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fabricate_results(tmp_path_factory.mktemp("results"))


def test_fabricated_records_load_with_three_seeds(fabricated: Path) -> None:
    runs = load_runs(fabricated)
    main = runs[runs["experiment"] == "main"]
    assert set(main["seed"]) == {0, 1, 2}
    table = summary_table(main).set_index("model")
    assert (table["seeds"] == 3).all()
    assert table["top1_sd"].notna().all()


def test_comparison_table_recovers_the_planted_differences(fabricated: Path) -> None:
    runs = load_runs(fabricated)
    main = runs[runs["experiment"] == "main"]
    seed0 = main[main["seed"] == 0].set_index("model")["test_top1"]
    table = comparison_table(main).set_index("model")
    assert "resnet20" not in table.index and len(table) == len(seed0) - 1
    for model, row in table.iterrows():
        # planted: real seed-0 difference + 0.1 * mean(0, 1, 2); per-seed differences have sd 0.1
        assert row["diff"] == pytest.approx(seed0[model] - seed0["resnet20"] + 0.1, abs=1e-6)
        half = 4.302653 * 0.1 / math.sqrt(3)
        assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * half, abs=1e-3)
        assert row["pairs"] == 3


def test_ablation_compared_within_its_experiment(fabricated: Path) -> None:
    runs = load_runs(fabricated)
    abl = runs[runs["experiment"] == "ablation_eca_k"]
    table = comparison_table(abl, reference="eca_resnet20", reference_variant="adaptive").set_index("variant")
    assert set(table.index) == {"k5", "k7"}
    assert table.loc["k5", "diff"] == pytest.approx(-0.3, abs=1e-6)
    assert table.loc["k7", "diff"] == pytest.approx(0.2, abs=1e-6)
    # identical per-seed differences: zero spread, so the interval collapses onto the estimate
    assert table.loc["k5", "significant"] and table.loc["k7", "significant"]
    assert comparison_table(abl, reference="not_a_model").empty
    assert json.loads((next(fabricated.rglob("*.json"))).read_text())["config"]["seed"] in (0, 1, 2)
