"""Accuracy against a cost (parameters, FLOPs) with single-seed points hollow.

A one-seed mean carries no spread; drawn like a mean over three seeds it looks just as certain.
:func:`accuracy_vs_cost_by_seeds` fills the points of models with several seeds (error bar: sd
over seeds) and leaves single-seed points hollow, saying so in the legend.
"""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .plots import _repel_labels, setup_style

COST_LABELS = {"params_m": "参数量（百万）", "gflops": "前向 GFLOPs (32x32)", "train_images_per_s": "训练吞吐（图像/秒）"}


def seed_summary(runs: pd.DataFrame, cost: str, hue: str = "method") -> pd.DataFrame:
    """One row per model: mean top-1, its sd over seeds, the number of seeds, the mean cost."""
    return runs.groupby(["model", hue], as_index=False).agg(
        top1=("test_top1", "mean"), sd=("test_top1", "std"), seeds=("seed", "nunique"), cost=(cost, "mean"))


def accuracy_vs_cost_by_seeds(runs: pd.DataFrame, cost: str = "params_m", hue: str = "method") -> Figure:
    """Mean test top-1 against ``cost``, one point per model coloured by ``hue``: filled with an
    error bar (sd over seeds) for several seeds, hollow for one seed."""
    setup_style()
    agg = seed_summary(runs, cost, hue)
    colours = dict(zip(sorted(agg[hue].unique()),
                       sns.color_palette("tab20" if agg[hue].nunique() > 10 else "tab10", agg[hue].nunique())))
    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    for _, row in agg.iterrows():
        colour = colours[row[hue]]
        many = row["seeds"] > 1
        ax.plot(row["cost"], row["top1"], "o", markersize=8, color=colour, markerfacecolor=colour if many else "white",
                markeredgewidth=1.6)
        if many and pd.notna(row["sd"]):
            ax.errorbar(row["cost"], row["top1"], yerr=row["sd"], fmt="none", ecolor="#7f8c8d", capsize=3, linewidth=1)
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=name) for name, c in colours.items()]
    if (agg["seeds"] == 1).any():
        handles += [Line2D([], [], marker="o", linestyle="", color="black", markerfacecolor="white", label="空心：1 个种子")]
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.set(xlabel=COST_LABELS.get(cost, cost), ylabel="测试集 top-1 (%)")
    ax.legend(handles=handles, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.01), frameon=False,
              ncol=min(len(handles), 6))
    fig.tight_layout()
    _repel_labels(ax, list(agg["cost"]), list(agg["top1"]), list(agg["model"]))
    return fig
