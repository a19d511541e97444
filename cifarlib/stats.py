"""Statistics for the study: spread over seeds, paired differences and their confidence intervals.

The rule the book follows: a difference is called significant only when its 95 % interval
excludes zero (:func:`significant`); otherwise it says "no detectable difference".
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

    @property
    def significant(self) -> bool:
        """True only when the interval excludes zero."""
        return significant(self)


def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (no SciPy needed).

    Bisection on :math:`F(x) = 1/2 + \\int_0^x f(u)\\,du` with the density
    :math:`f(u) = \\frac{\\Gamma((\\nu+1)/2)}{\\sqrt{\\nu\\pi}\\,\\Gamma(\\nu/2)}(1+u^2/\\nu)^{-(\\nu+1)/2}`,
    integrated with Simpson's rule; accurate to about 1e-6 for the quantiles used here.
    """
    if not 0.5 <= p < 1 or df < 1:
        raise ValueError(f"t_quantile needs 0.5 <= p < 1 and df >= 1, got p={p}, df={df}")
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def cdf(x: float) -> float:
        u = np.linspace(0.0, x, 4001)
        f = np.exp(log_c - (df + 1) / 2 * np.log1p(u * u / df))
        h = x / 4000
        return 0.5 + h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())

    low, high = 0.0, 1.0
    while cdf(high) < p:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return (low + high) / 2


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
    With one shared seed the interval is unbounded (NaN ends): one pair says nothing about spread.
    """
    seeds = sorted(set(treated) & set(reference))
    if not seeds:
        raise ValueError("no seed is shared by the two models; run the reference with the same seeds")
    d = np.array([treated[s] - reference[s] for s in seeds], dtype=float)
    n = d.size
    if n < 2:
        return Interval(float(d[0]), math.nan, math.nan, 1)
    half = t_quantile(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / math.sqrt(n)
    return Interval(float(d.mean()), float(d.mean() - half), float(d.mean() + half), n)


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
