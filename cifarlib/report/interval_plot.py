"""The difference plot of a comparison with its far outliers on a panel of their own.

One arm far from the rest (ConvNeXt's graft at the paper's layer-scale init, about -34 points)
stretches a single axis so far that the sub-2-point intervals that matter shrink to a few pixels.
:func:`split_interval_plot` draws such arms on a narrow panel beside the main one (a broken x
axis): each panel spans only its own intervals, so both use their width.
"""

from __future__ import annotations

import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from .plots import difference_label, setup_style

OUTLIER_GAP = 8.0  # points from the median difference beyond which an arm gets its own panel


def outlier_arms(rows: pd.DataFrame, gap: float = OUTLIER_GAP) -> pd.Series:
    """True for arms whose difference lies more than ``gap`` points from the median difference
    (never all of them: with fewer than three differences nothing is an outlier)."""
    diffs = rows["diff"]
    if diffs.notna().sum() < 3:
        return pd.Series(False, index=rows.index)
    return (diffs - diffs.median()).abs() > gap


def _span(rows: pd.DataFrame) -> tuple[float, float]:
    values = pd.concat([rows[c] for c in ("diff", "ci_low", "ci_high", "boot_low", "boot_high")]).dropna()
    low, high = float(values.min()), float(values.max())
    pad = max(0.15 * (high - low), 0.3)
    return low - pad, high + pad


def _draw(ax: plt.Axes, rows: pd.DataFrame, legend_rows: bool) -> None:
    for y, row in rows.iterrows():
        colour = "#1f77b4" if row["significant"] else "#7f7f7f"
        if pd.notna(row["ci_low"]):
            ax.plot([row["ci_low"], row["ci_high"]], [y, y], color=colour, linewidth=3,
                    label="主要检验的 95% 区间" if legend_rows and y == 0 else None)
        if pd.notna(row["boot_low"]):
            ax.plot([row["boot_low"], row["boot_high"]], [y - 0.22, y - 0.22], color="#e67e22", linewidth=1.5,
                    label="测试图像 bootstrap 区间" if legend_rows and y == 0 else None)
        if pd.notna(row["diff"]):
            ax.plot(row["diff"], y, "o", color=colour, markersize=8,
                    markerfacecolor=colour if row["significant"] else "white")
            ax.annotate(f"{row['diff']:+.2f}", (row["diff"], y), textcoords="offset points", xytext=(0, 7),
                        ha="center", fontsize=9, annotation_clip=True)


def split_interval_plot(table: pd.DataFrame, reference: str, gap: float = OUTLIER_GAP) -> Figure:
    """Each arm of an :func:`cifarlib.report.ablations.ablation_table` against ``reference``: the
    primary 95 % interval (thick; solid marker when it excludes 0) and the test-image bootstrap
    (thin, below). Arms :func:`outlier_arms` finds sit on a narrow panel of their own, on the side
    where they lie, with the axis break marked; otherwise one panel."""
    setup_style()
    rows = table[table["role"] == "arm"].reset_index(drop=True)
    far = outlier_arms(rows, gap)
    height = 0.7 * max(len(rows), 1) + 1.4
    if not far.any():
        fig, main = plt.subplots(figsize=(7.0, height))
        panels = [(main, rows)]
    else:
        left = bool((rows.loc[far, "diff"] < rows["diff"].median()).all())
        ratios = [1, 3] if left else [3, 1]
        fig, axes = plt.subplots(1, 2, sharey=True, figsize=(7.4, height), gridspec_kw={"width_ratios": ratios})
        outer, main = (axes[0], axes[1]) if left else (axes[1], axes[0])
        panels = [(main, rows[~far]), (outer, rows[far])]
    for ax, subset in panels:
        _draw(ax, rows, legend_rows=ax is main)
        ax.set_xlim(*_span(subset))
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")
        low, high = ax.get_xlim()
        if low < 0 < high:
            ax.axvline(0.0, color="black", linestyle="--", linewidth=1)
    if far.any():  # the break: the facing spines hidden, diagonal ticks where the axis is cut
        outer.spines["right" if left else "left"].set_visible(False)
        main.spines["left" if left else "right"].set_visible(False)
        for ax, side in ((outer, 1.0 if left else 0.0), (main, 0.0 if left else 1.0)):
            ax.plot([side - 0.015, side + 0.015], [-0.02, 0.02], transform=ax.transAxes, color="black",
                    clip_on=False, linewidth=1)
        (main if left else outer).tick_params(left=False)  # the right-hand panel: no y ticks at the cut
    axes_left = fig.axes[0]
    axes_left.set_yticks(range(len(rows)), [f"{l}（{int(p)} 个种子）" for l, p in zip(rows["label"], rows["pairs"])])
    axes_left.set_ylim(len(rows) - 0.4, -0.8)  # the first arm on top
    fig.supxlabel(difference_label(reference), fontsize=10)
    if rows["ci_low"].notna().any() or rows["boot_low"].notna().any():
        main.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    fig.tight_layout()
    return fig
