"""Statistics for the study: spread over seeds, paired differences and their confidence intervals.

The rule the book follows: a difference is called significant only when its 95 % interval
excludes zero (:func:`significant`); otherwise it says "no detectable difference". The book runs
many such comparisons at once, so it also reports which survive Holm's correction for the whole
family (:func:`holm_adjust`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval (``low``, ``high``) and sample size ``n``."""

    estimate: float
    low: float
    high: float
    n: int
    p_value: float = math.nan  # two-sided, where the interval comes from a test (paired t)

    @property
    def significant(self) -> bool:
        """True only when the interval excludes zero."""
        return significant(self)


def t_central_mass(t: float, df: int) -> float:
    """:math:`P(|T| \\le t)` for Student's t with integer ``df`` degrees of freedom, exactly.

    With :math:`\\theta = \\arctan(t/\\sqrt{\\nu})` and :math:`c = \\cos\\theta` (Abramowitz & Stegun
    26.7.3-4): for even :math:`\\nu`,
    :math:`\\sin\\theta\\,[1 + \\tfrac12 c^2 + \\tfrac{1\\cdot3}{2\\cdot4} c^4 + \\dots + \\tfrac{1\\cdot3\\cdots(\\nu-3)}{2\\cdot4\\cdots(\\nu-2)} c^{\\nu-2}]`;
    for odd :math:`\\nu`,
    :math:`\\tfrac{2}{\\pi}\\{\\theta + \\sin\\theta\\,[c + \\tfrac23 c^3 + \\dots + \\tfrac{2\\cdot4\\cdots(\\nu-3)}{3\\cdot5\\cdots(\\nu-2)} c^{\\nu-2}]\\}`
    (just :math:`2\\theta/\\pi` for :math:`\\nu = 1`). ``1 - t_central_mass(|t|, df)`` is the
    two-sided p-value of a t statistic.
    """
    if df < 1 or int(df) != df:
        raise ValueError(f"t_central_mass needs an integer df >= 1, got {df}")
    theta = math.atan(abs(t) / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    term = 1.0 if df % 2 == 0 else math.cos(theta)
    total = term
    for k in range(2 if df % 2 == 0 else 3, df, 2):
        term *= (k - 1) / k * c2
        total += term
    if df % 2 == 0:
        return math.sin(theta) * total
    return 2 / math.pi * (theta + (math.sin(theta) * total if df > 1 else 0.0))


def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t with integer ``df`` degrees of freedom (no SciPy needed): bisection
    on the exact CDF :math:`F(x) = \\tfrac12 + \\tfrac12 P(|T| \\le x)` (:func:`t_central_mass`)."""
    if not 0.5 <= p < 1 or df < 1:
        raise ValueError(f"t_quantile needs 0.5 <= p < 1 and df >= 1, got p={p}, df={df}")
    mass = 2 * p - 1
    low, high = 0.0, 1.0
    while t_central_mass(high, df) < mass:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if t_central_mass(mid, df) < mass else (low, mid)
    return (low + high) / 2


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values for a family of tests (NaN entries are left out and stay NaN).

    With the :math:`m` p-values sorted, :math:`p_{(1)} \\le \\dots \\le p_{(m)}`, the adjusted
    value is :math:`\\tilde p_{(i)} = \\max_{j \\le i} \\min\\{1, (m - j + 1)\\, p_{(j)}\\}`; calling a test
    significant when :math:`\\tilde p < \\alpha` keeps the chance of any false call in the family
    at most :math:`\\alpha`.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    running = 0.0
    for rank, i in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1); the sd is NaN for a single value, not zero."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("mean_sd needs at least one value; pass the per-seed accuracies")
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else math.nan


def paired_difference(treated: Mapping[int, float], reference: Mapping[int, float],
                      confidence: float = 0.95) -> Interval:
    """Mean paired-by-seed difference ``treated - reference`` with a Student-t interval.

    With :math:`d_s = a_s - b_s` over the :math:`n` seeds present in both,
    :math:`\\bar d \\pm t_{1-\\alpha/2,\\,n-1}\\, s_d/\\sqrt{n}`.
    ``p_value`` is the two-sided p of :math:`t = \\bar d / (s_d/\\sqrt{n})`, so the interval excludes 0
    exactly when ``p_value < 1 - confidence``. With one shared seed the interval is unbounded (NaN
    ends, NaN p): one pair says nothing about spread.
    """
    seeds = sorted(set(treated) & set(reference))
    if not seeds:
        raise ValueError("no seed is shared by the two models; run the reference with the same seeds")
    d = np.array([treated[s] - reference[s] for s in seeds], dtype=float)
    n = d.size
    if n < 2:
        return Interval(float(d[0]), math.nan, math.nan, 1)
    se = d.std(ddof=1) / math.sqrt(n)
    half = t_quantile(0.5 + confidence / 2, n - 1) * se
    if se > 0:
        p_value = 1 - t_central_mass(d.mean() / se, n - 1)
    else:  # identical differences: no spread, so any non-zero mean is certain
        p_value = 1.0 if d.mean() == 0 else 0.0
    return Interval(float(d.mean()), float(d.mean() - half), float(d.mean() + half), n, float(p_value))


def bootstrap_difference(treated_correct: Sequence[bool], reference_correct: Sequence[bool],
                         confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> Interval:
    """Difference in top-1 (percentage points) with a percentile bootstrap over test images.

    Both vectors give per-image correctness on the same test images in the same order; each
    resample draws images with replacement and keeps the pairing (same image for both models).
    """
    a = np.asarray(treated_correct, dtype=float)
    b = np.asarray(reference_correct, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"per-image correctness must be two equal-length vectors, got {a.shape} and {b.shape}")
    diff = a - b
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(resamples, diff.size))
    boot = diff[idx].mean(axis=1) * 100
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha])
    return Interval(float(diff.mean() * 100), float(low), float(high), int(diff.size))


def significant(interval: Interval) -> bool:
    """The study's rule: significant only if the interval is finite and excludes zero."""
    if math.isnan(interval.low) or math.isnan(interval.high):
        return False
    return interval.low > 0 or interval.high < 0


def verdict(interval: Interval) -> str:
    """A Chinese verdict for a difference in top-1 points, following :func:`significant`."""
    if interval.n < 2 and math.isnan(interval.low):
        return "仅 1 个种子，无法给出区间"
    if not significant(interval):
        return "区间跨过 0，无可检测差异"
    return "显著更高" if interval.estimate > 0 else "显著更低"


@dataclass(frozen=True)
class BlockFit:
    """The randomized-complete-block model fitted to one experiment's arms (see :func:`block_model`).

    ``intervals`` maps each non-reference arm to its difference from the reference with the
    model's interval and p-value; ``residual_sd`` is the pooled residual standard deviation (top-1
    points) on ``df`` degrees of freedom; ``seeds`` are the blocks used.
    """

    intervals: dict[str, Interval]
    residual_sd: float
    df: int
    seeds: tuple[int, ...]


def _blocks(arms: Mapping[str, Mapping[int, float]],
            reference: str) -> tuple[list[str], tuple[int, ...], np.ndarray, np.ndarray] | None:
    """The block design of :func:`block_model`: the reference first, then the arms with every seed
    of the reference; the seeds; the arm x seed table ``y``; and its residuals after removing the
    arm and seed means. None when fewer than two arms or two seeds qualify."""
    seeds = tuple(sorted(arms[reference]))
    names = [reference] + [a for a in arms if a != reference and set(seeds) <= set(arms[a])]
    if len(seeds) < 2 or len(names) < 2:
        return None
    y = np.array([[arms[a][s] for s in seeds] for a in names], dtype=float)
    return names, seeds, y, y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()


def block_model(arms: Mapping[str, Mapping[int, float]], reference: str,
                confidence: float = 0.95) -> BlockFit | None:
    """Each arm against ``reference`` under a randomized-complete-block model (arm + seed block).

    The model is :math:`y_{as} = \\mu + \\alpha_a + \\beta_s + \\varepsilon_{as}` over the arms
    that have every seed of the reference (the blocks; arms missing one are left out). Its residual
    variance is pooled over all those arms:
    :math:`\\hat\\sigma^2 = \\sum_{a,s} (y_{as} - \\bar y_{a\\cdot} - \\bar y_{\\cdot s} + \\bar y_{\\cdot\\cdot})^2 / \\nu`
    with :math:`\\nu = (A-1)(S-1)`, and each difference
    :math:`\\bar y_{a\\cdot} - \\bar y_{r\\cdot}` gets the interval
    :math:`\\pm t_{1-\\alpha/2,\\nu}\\, \\hat\\sigma\\sqrt{2/S}` (Montgomery, *Design and Analysis of
    Experiments*, ch. 4). With two arms it is the paired t. None when fewer than two arms or two
    seeds qualify, or the residuals are all zero (no spread to pool).
    """
    if reference not in arms:
        raise ValueError(f"block_model: the reference {reference!r} is not among the arms {sorted(arms)}")
    blocks = _blocks(arms, reference)
    if blocks is None:
        return None
    names, seeds, y, resid = blocks
    df = (len(names) - 1) * (len(seeds) - 1)
    sigma = math.sqrt(float((resid ** 2).sum()) / df)
    if sigma == 0:
        return None
    se = sigma * math.sqrt(2 / len(seeds))
    half = t_quantile(0.5 + confidence / 2, df) * se
    intervals = {}
    for i, name in enumerate(names[1:], start=1):
        d = float(y[i].mean() - y[0].mean())
        intervals[name] = Interval(d, d - half, d + half, len(seeds), float(1 - t_central_mass(d / se, df)))
    return BlockFit(intervals, sigma, df, seeds)


def residual_shares(arms: Mapping[str, Mapping[int, float]], reference: str) -> dict[str, float]:
    """Each arm's share of :func:`block_model`'s residual sum of squares (arms with every seed of
    the reference; shares sum to 1). Equal shares are what pooling assumes; one arm holding most of
    it means its seeds scatter more than the others' and the pooled sd overstates theirs. Empty when
    the model cannot be fitted."""
    blocks = _blocks(arms, reference) if reference in arms else None
    if blocks is None:
        return {}
    names, _, _, resid = blocks
    per_arm = (resid ** 2).sum(axis=1)
    total = float(per_arm.sum())
    return {} if total == 0 else {name: float(v) / total for name, v in zip(names, per_arm)}


def detectable_difference(residual_sd: float, seeds: int, df: int, alpha: float = 0.05,
                          power: float = 0.8) -> float:
    """The smallest true difference (points) a two-sided level-``alpha`` test of two arms finds
    with probability ``power``: :math:`(t_{1-\\alpha/2,\\nu} + t_{\\text{power},\\nu})\\,\\sigma\\sqrt{2/S}`
    (the usual normal-shift approximation to the noncentral t, with t quantiles for :math:`\\nu` df)."""
    if seeds < 2 or df < 1 or not residual_sd > 0:
        raise ValueError(f"detectable_difference needs seeds >= 2, df >= 1 and sd > 0, got {seeds}, {df}, {residual_sd}")
    return (t_quantile(1 - alpha / 2, df) + t_quantile(power, df)) * residual_sd * math.sqrt(2 / seeds)


def chi2_cdf(x: float, df: int) -> float:
    """:math:`P(\\chi^2_\\nu \\le x)`: the regularized lower incomplete gamma :math:`P(\\nu/2, x/2)`
    by its power series (no SciPy needed)."""
    if df < 1:
        raise ValueError(f"chi2_cdf needs df >= 1, got {df}")
    if x <= 0:
        return 0.0
    a, z = df / 2, x / 2
    term = total = 1 / a
    for n in range(1, 10_000):
        term *= z / (a + n)
        total += term
        if term < total * 1e-15:
            break
    return min(1.0, math.exp(a * math.log(z) - z - math.lgamma(a)) * total)


def pooled_seed_sd(arms: Mapping[str, Sequence[float]]) -> tuple[float, int]:
    """The seed-to-seed sd pooled over arms (one-way, each arm's own mean removed) and its df,
    from the arms with at least two seeds."""
    groups = [np.asarray(v, dtype=float) for v in arms.values() if len(v) >= 2]
    df = sum(g.size - 1 for g in groups)
    if df == 0:
        raise ValueError("pooled_seed_sd needs an arm with at least two seeds")
    return math.sqrt(sum(float(((g - g.mean()) ** 2).sum()) for g in groups) / df), df


def spread_this_small(sd: float, seeds: int, pooled_sd: float) -> float:
    """The chance that ``seeds`` seeds of an arm whose true seed sd is ``pooled_sd`` agree to an
    sd of ``sd`` or less: :math:`P(\\chi^2_{n-1} \\le (n-1)s^2/\\sigma^2)`."""
    if seeds < 2 or not pooled_sd > 0:
        raise ValueError(f"spread_this_small needs seeds >= 2 and pooled_sd > 0, got {seeds}, {pooled_sd}")
    return chi2_cdf((seeds - 1) * sd ** 2 / pooled_sd ** 2, seeds - 1)
