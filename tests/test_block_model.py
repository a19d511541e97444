"""The randomized-complete-block model (arm + seed block, pooled residual variance): one interval
recomputed by hand, its relation to the paired t, and the detectable difference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cifarlib.report.stats import block_model, detectable_difference, paired_difference

T_975_20 = 2.085963  # Student t, 0.975 quantile, 20 df (printed tables)
T_80_20 = 0.860     # Student t, 0.80 quantile, 20 df (three digits in the tables)


def _eleven_arms() -> dict[str, dict[int, float]]:
    rng = np.random.default_rng(3)
    seed_effect = np.array([0.0, 0.4, -0.3])
    arms = {"resnet20": {s: 77.6 + seed_effect[s] + float(rng.normal(0, 0.01)) for s in range(3)}}
    for a in range(10):
        arms[f"g{a}"] = {s: 77.0 - 0.2 * a + seed_effect[s] + float(rng.normal(0, 0.4)) for s in range(3)}
    arms["one_seed"] = {0: 70.0}  # lacks seeds 1, 2: not a block of the model
    return arms


def test_one_interval_recomputed_by_hand() -> None:
    arms = _eleven_arms()
    fit = block_model(arms, "resnet20")
    assert fit is not None and fit.df == 20 and fit.seeds == (0, 1, 2) and "one_seed" not in fit.intervals
    # by hand: the 11 x 3 table, two-way residuals, pooled variance on (11-1)(3-1) = 20 df
    names = ["resnet20"] + [f"g{a}" for a in range(10)]
    y = np.array([[arms[n][s] for s in range(3)] for n in names])
    row, col, grand = y.mean(axis=1), y.mean(axis=0), y.mean()
    sse = sum((y[i, j] - row[i] - col[j] + grand) ** 2 for i in range(11) for j in range(3))
    sigma2 = sse / 20
    se = math.sqrt(2 * sigma2 / 3)
    d = row[4] - row[0]  # g3 - resnet20
    got = fit.intervals["g3"]
    assert got.estimate == pytest.approx(d)
    assert (got.low, got.high) == pytest.approx((d - T_975_20 * se, d + T_975_20 * se), abs=1e-5)
    assert fit.residual_sd == pytest.approx(math.sqrt(sigma2))
    assert (got.p_value < 0.05) == (got.high < 0 or got.low > 0)


def test_two_arms_give_the_paired_t() -> None:
    a, b = {0: 80.1, 1: 81.7, 2: 80.9}, {0: 79.0, 1: 80.2, 2: 80.3}
    fit = block_model({"ref": b, "arm": a}, "ref")
    paired = paired_difference(a, b)
    assert fit.df == 2
    got = fit.intervals["arm"]
    assert (got.estimate, got.low, got.high, got.p_value) == pytest.approx(
        (paired.estimate, paired.low, paired.high, paired.p_value))


def test_too_little_to_pool_gives_none_and_bad_reference_names_it() -> None:
    assert block_model({"ref": {0: 1.0}, "arm": {0: 2.0}}, "ref") is None  # one seed
    assert block_model({"ref": {0: 1.0, 1: 2.0}}, "ref") is None  # no arm
    assert block_model({"ref": {0: 1.0, 1: 2.0}, "arm": {0: 2.0, 1: 3.0}}, "ref") is None  # no residual
    with pytest.raises(ValueError, match="reference 'x'"):
        block_model({"ref": {0: 1.0}}, "x")


def test_detectable_difference_by_hand() -> None:
    assert detectable_difference(0.37, 3, 20) == pytest.approx((T_975_20 + T_80_20) * 0.37 * math.sqrt(2 / 3),
                                                               rel=1e-4)
    # more seeds detect less; the paired t's 2 df detect far less than the block model's 20
    assert detectable_difference(0.37, 5, 40) < detectable_difference(0.37, 3, 20) < detectable_difference(0.37, 3, 2)
    with pytest.raises(ValueError, match="seeds >= 2"):
        detectable_difference(0.37, 1, 20)


def test_chi2_cdf_closed_forms_and_the_small_spread_chance() -> None:
    from cifarlib.report.stats import chi2_cdf, pooled_seed_sd, spread_this_small

    for x in (0.1, 1.0, 5.0):
        assert chi2_cdf(x, 2) == pytest.approx(1 - math.exp(-x / 2))  # df 2: exponential
        assert chi2_cdf(x, 4) == pytest.approx(1 - math.exp(-x / 2) * (1 + x / 2))
    assert chi2_cdf(3.841459, 1) == pytest.approx(0.95, abs=1e-6)
    sd, df = pooled_seed_sd({"a": [1.0, 2.0, 3.0], "b": [0.0, 2.0], "c": [5.0]})
    assert df == 3 and sd == pytest.approx(math.sqrt((2.0 + 2.0) / 3))
    # three seeds agreeing to sd 0.006 when seeds usually differ by 0.37: about 3 in 10,000
    assert spread_this_small(0.006, 3, 0.37) == pytest.approx(1 - math.exp(-(0.006 / 0.37) ** 2), rel=1e-9)
    assert spread_this_small(0.006, 3, 0.37) < 5e-4
