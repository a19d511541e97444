"""Figures for the book: seaborn styling with a CJK font so Chinese labels render.

The font is Noto Sans CJK SC shipped inside the ``mplfonts`` wheel (a PyPI dependency), so no
system font package or network is needed; :func:`setup_style` registers it with matplotlib.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import MaxNLocator

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"

# Twelve hues told apart with normal colour vision and under simulated deuteranopia, protanopia and
# tritanopia (CIELAB distance >= 16 between every pair, tests/test_profile_plots.py), from Paul
# Tol's and Okabe & Ito's colour-blind-safe sets; no light/dark pairs of one hue. Most distinct first.
CATEGORICAL = ("#332288", "#E69F00", "#117733", "#EE3377", "#88CCEE", "#997700",
               "#AA4499", "#000000", "#DDCC77", "#6699CC", "#882255", "#BBBBBB")
# The book's figures are at most FIGURE_WIDTH_IN wide, so that at the page's width (a 1280 px
# window shows them about CONTENT_WIDTH_PX wide) LEGEND_PT-point text is at least 9 pt (12 px).
FIGURE_WIDTH_IN = 7.4
CONTENT_WIDTH_PX = 740
LEGEND_PT = 10.0


@lru_cache(maxsize=1)
def register_cjk_font() -> str:
    """Register the bundled Noto Sans CJK SC font and return its family name.

    Raises ``FileNotFoundError`` saying how to install it if ``mplfonts`` is missing.
    """
    try:
        import mplfonts
    except ImportError as err:  # pragma: no cover - dependency of the package
        raise FileNotFoundError(
            "the CJK font comes from the 'mplfonts' package: pip install mplfonts"
        ) from err
    path = Path(mplfonts.__file__).parent / "fonts" / CJK_FONT_FILE
    if not path.exists():
        raise FileNotFoundError(f"CJK font not found at {path}; reinstall mplfonts")
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def setup_style() -> str:
    """Seaborn theme with the CJK font first and DejaVu Sans as per-glyph fallback; returns the font name.

    The families are listed in ``font.family`` itself (not only behind the generic "sans-serif"),
    because only that list makes Matplotlib fall back glyph by glyph: the CJK font lacks the
    sub/superscript digits of labels such as "γ₀=10⁻⁶"."""
    family = register_cjk_font()
    sns.set_theme(context="notebook", style="whitegrid", palette="deep")
    fonts = [family, "DejaVu Sans"]
    plt.rcParams["font.family"] = fonts
    plt.rcParams["font.sans-serif"] = fonts  # for code that asks for the generic family
    plt.rcParams["axes.unicode_minus"] = False  # the CJK font lacks U+2212
    plt.rcParams["figure.dpi"] = 110
    plt.rcParams.update({"legend.fontsize": LEGEND_PT, "xtick.labelsize": LEGEND_PT, "ytick.labelsize": LEGEND_PT,
                         "axes.labelsize": LEGEND_PT + 1, "axes.titlesize": LEGEND_PT + 1,
                         "axes.prop_cycle": plt.cycler(color=list(CATEGORICAL))})
    return family


def categorical_palette(n: int) -> list[str]:
    """``n`` colours of :data:`CATEGORICAL` in order; past twelve they repeat (the line plots
    then also vary the marker, :func:`markers`)."""
    if n < 0:
        raise ValueError(f"a palette needs a non-negative number of colours, got {n}")
    return [CATEGORICAL[i % len(CATEGORICAL)] for i in range(n)]


def markers(n: int) -> list[str]:
    """``n`` markers: the same for the first twelve hues, another for each further round of them."""
    shapes = ("o", "s", "^", "D", "v")
    return [shapes[(i // len(CATEGORICAL)) % len(shapes)] for i in range(n)]


def displayed_pt(font_pt: float, figure_width_in: float, content_px: float = CONTENT_WIDTH_PX) -> float:
    """The size in points that ``font_pt`` text of a ``figure_width_in``-wide figure has on the page
    when the figure is scaled to ``content_px`` pixels (96 px per inch, as browsers count)."""
    return font_pt * content_px / (96 * figure_width_in)


BOX_CHARS = 26  # what fits on one line of a block diagram's box at 9.5 pt (a Han character counts two)


def _text_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _box_label(label: str) -> tuple[str, float]:
    """A box's text and font size: a label too long for one line is broken at the space or arrow
    nearest its middle into two lines at 8.5 pt (still too long: the size shrinks to fit)."""
    if _text_width(label) <= BOX_CHARS:
        return label, 9.5
    breaks = [i for i, ch in enumerate(label) if ch == " " and 0 < i < len(label) - 1]
    if not breaks:
        return label, max(5.0, 9.5 * BOX_CHARS / _text_width(label))
    middle = _text_width(label) / 2
    cut = min(breaks, key=lambda i: abs(_text_width(label[:i]) - middle))
    lines = [label[:cut].rstrip(), label[cut:].lstrip()]
    widest = max(_text_width(line) for line in lines)
    return "\n".join(lines), min(8.5, 9.5 * BOX_CHARS / widest)


def difference_label(reference: str) -> str:
    """The axis label of a difference plot: "与参考（resnet20）的 top-1 之差（…）"; a reference whose
    label has brackets of its own ("关（resnet20）") is quoted instead, so brackets never nest."""
    named = f"“{reference}”" if "（" in reference else f"（{reference}）"
    return f"与参考{named}的 top-1 之差（百分点，95% 区间）"


def block_diagram(
    steps: Sequence[str], title: str, skip: tuple[int, int] | None = None,
    skip_label: str = "恒等/投影捷径",
) -> Figure:
    """Draw a block as boxes top to bottom joined by arrows.

    Args:
        steps: box labels, input first (Chinese is fine).
        title: figure title.
        skip: ``(i, j)`` draws a residual connection from box ``i`` to box ``j``.
        skip_label: text written along the skip connection.
    """
    setup_style()
    if skip is not None and not (0 <= skip[0] < skip[1] < len(steps)):
        raise ValueError(f"skip must be (i, j) with 0 <= i < j < {len(steps)}, got {skip}")
    height = 0.62 * len(steps) + 0.6
    fig, ax = plt.subplots(figsize=(4.6, height))
    ax.set_xlim(0.1, 1.0)
    ax.set_ylim(-0.5, len(steps) - 0.3)
    ax.invert_yaxis()
    ax.axis("off")
    for i, label in enumerate(steps):
        is_add = label.startswith("⊕")
        box = FancyBboxPatch(
            (0.2, i - 0.27), 0.6, 0.54, boxstyle="round,pad=0.02",
            facecolor="#fde2c8" if is_add else "#dbe9f6", edgecolor="#34495e", linewidth=1.0,
        )
        ax.add_patch(box)
        text, size = _box_label(label)
        ax.text(0.5, i, text, ha="center", va="center", fontsize=size)
        if i > 0:
            ax.add_patch(FancyArrowPatch((0.5, i - 0.73), (0.5, i - 0.29),
                                         arrowstyle="-|>", mutation_scale=10, color="#34495e"))
    if skip is not None:
        i, j = skip
        colour = "#c0392b"
        ax.plot([0.8, 0.9, 0.9], [i, i, j], color=colour, linewidth=1.2)
        ax.add_patch(FancyArrowPatch((0.9, j), (0.805, j), arrowstyle="-|>", mutation_scale=10,
                                     color=colour, linewidth=1.2))
        ax.text(0.93, (i + j) / 2, skip_label, ha="left", va="center", fontsize=8,
                color=colour, rotation=90)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def training_curves(history: pd.DataFrame, hue: str = "model") -> Figure:
    """Loss and top-1 curves per epoch, one line per ``hue`` value: the mean over its seeds with a
    band of one standard deviation; ``history`` has columns epoch, train_loss, test_top1, ``hue``."""
    setup_style()
    n = history[hue].nunique()
    rows = -(-n // 3)  # the legend below the plots, three entries a row
    fig, axes = plt.subplots(1, 2, figsize=(FIGURE_WIDTH_IN, 3.2 + 0.25 * rows))
    palette = categorical_palette(n)
    sns.lineplot(data=history, x="epoch", y="train_loss", hue=hue, marker="o", ax=axes[0], errorbar="sd",
                 palette=palette)
    axes[0].set(xlabel="轮次（epoch）", ylabel="训练损失", title="训练损失")
    sns.lineplot(data=history, x="epoch", y="test_top1", hue=hue, marker="o", ax=axes[1], legend=False,
                 errorbar="sd", palette=palette)
    axes[1].set(xlabel="轮次（epoch）", ylabel="测试集 top-1 (%)", title="测试集 top-1 准确率")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    legend = axes[0].get_legend()
    if legend is not None:  # one shared legend beside the plots, never over the curves
        handles, labels = axes[0].get_legend_handles_labels()
        legend.remove()
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(n, 3),
                   fontsize=LEGEND_PT, frameon=False)
    fig.tight_layout()
    return fig


def curves_small_multiples(history: pd.DataFrame, reference: pd.DataFrame | None = None,
                           metric: str = "test_top1", panel: str = "model", ncols: int = 4) -> Figure:
    """One small panel per ``panel`` value (a model, or a variant of one): ``metric`` per epoch,
    one thin line per seed, on shared axes, with the ``reference`` history's mean over seeds as a
    grey dashed line in every panel. ``history`` has columns epoch, seed, ``metric``, ``panel``."""
    setup_style()
    names = list(dict.fromkeys(history[panel]))
    ncols = max(1, min(ncols, len(names)))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(FIGURE_WIDTH_IN, (FIGURE_WIDTH_IN / ncols) * 0.85 * nrows + 0.5),
                             sharex=True, sharey=True, squeeze=False)
    ref = None if reference is None or reference.empty else reference.groupby("epoch")[metric].mean()
    colours = categorical_palette(len(names))
    for ax, name, colour in zip(axes.flat, names, colours):
        rows = history[history[panel] == name]
        if ref is not None:
            ax.plot(ref.index, ref.values, linestyle="--", color="#888888", linewidth=1.2)
        for _, seed_rows in rows.sort_values("epoch").groupby("seed"):
            ax.plot(seed_rows["epoch"], seed_rows[metric], color=colour, linewidth=1.2, marker="o", markersize=2.5)
        ax.set_title(f"{name}（{rows['seed'].nunique()} 个种子）", fontsize=LEGEND_PT - 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=LEGEND_PT - 1)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    ylabel = {"test_top1": "测试集 top-1 (%)", "train_loss": "训练损失"}.get(metric, metric)
    fig.supxlabel("轮次（epoch）", fontsize=LEGEND_PT)
    fig.supylabel(ylabel, fontsize=LEGEND_PT)
    fig.tight_layout()
    return fig


def accuracy_vs_cost(runs: pd.DataFrame, cost: str = "params_m", hue: str = "method") -> Figure:
    """Scatter of mean test top-1 against a cost column, one point per model, with error bars
    (standard deviation over seeds) where several seeds exist."""
    setup_style()
    labels = {"params_m": "参数量（百万）", "gflops": "前向 GFLOPs (32x32)",
              "train_images_per_s": "训练吞吐（图像/秒）"}
    agg = runs.groupby(["model", hue], as_index=False).agg(
        top1=("test_top1", "mean"), sd=("test_top1", "std"), cost=(cost, "mean"))
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 5.2))
    palette = categorical_palette(agg[hue].nunique())
    sns.scatterplot(data=agg, x="cost", y="top1", hue=hue, style=hue, s=70, ax=ax, palette=palette,
                    markers=markers(agg[hue].nunique()))
    ax.errorbar(agg["cost"], agg["top1"], yerr=agg["sd"].fillna(0), fmt="none",
                ecolor="#7f8c8d", capsize=3, linewidth=1)
    ax.ticklabel_format(useOffset=False, style="plain")  # no "1e-5+2.724e-1" axes
    ax.set(xlabel=labels.get(cost, cost), ylabel="测试集 top-1 (%)")
    ax.legend(fontsize=LEGEND_PT, title=None, loc="lower center", bbox_to_anchor=(0.5, 1.01), frameon=False,
              ncol=min(agg[hue].nunique(), 4))  # above the axes: point labels never run under it
    fig.tight_layout()
    _repel_labels(ax, list(agg["cost"]), list(agg["top1"]), list(agg["model"]))
    return fig


def _repel_labels(ax: plt.Axes, xs: list[float], ys: list[float], texts: list[str],
                  steps: int = 200) -> None:
    """Annotate points with labels pushed apart until their boxes no longer overlap.

    A simple repel: labels start just right of their points; each step, every pair of
    overlapping boxes (display coordinates) is pushed apart vertically by half the overlap.
    A thin line joins a label that moved to its point.
    """
    fig = ax.figure
    fig.canvas.draw()
    offsets = [[6.0, 4.0] for _ in texts]  # points
    annotations = [ax.annotate(t, (x, y), textcoords="offset points", xytext=tuple(o), fontsize=LEGEND_PT - 1)
                   for t, x, y, o in zip(texts, xs, ys, offsets)]
    renderer = fig.canvas.get_renderer()
    scale = fig.dpi / 72  # pixels per point
    for _ in range(steps):
        boxes = [a.get_window_extent(renderer) for a in annotations]
        moved = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                dx = min(a.x1, b.x1) - max(a.x0, b.x0)
                dy = min(a.y1, b.y1) - max(a.y0, b.y0)
                if dx > 0 and dy > 0:
                    push = (dy / 2 + 1) / scale
                    upper, lower = (i, j) if a.y0 + a.y1 >= b.y0 + b.y1 else (j, i)
                    offsets[upper][1] += push
                    offsets[lower][1] -= push
                    moved = True
        for ann, off in zip(annotations, offsets):
            ann.set_position(tuple(off))
        if not moved:
            break
    for ann, off in zip(annotations, offsets):
        if abs(off[1] - 4.0) > 6:  # moved far from its point: join them with a thin line
            ax.annotate("", xy=ann.xy, xytext=tuple(off), textcoords="offset points",
                        arrowprops={"arrowstyle": "-", "color": "#999999", "linewidth": 0.6})


def ablation_interval_plot(table: pd.DataFrame, reference: str) -> Figure:
    """Each arm of an ablation against its reference: the paired-by-seed 95 % t interval (thick)
    and the bootstrap-over-test-images interval (thin, just below), the difference written beside.

    ``table`` is :func:`cifarlib.report.ablations.ablation_table`'s output (the reference row is skipped).
    Solid marker: the paired interval excludes 0; hollow: it crosses 0 or is undefined.
    """
    setup_style()
    rows = table[table["role"] == "arm"].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 0.9 * max(len(rows), 1) + 1.3))
    for y, row in rows.iterrows():
        colour = CATEGORICAL[0] if row["significant"] else "#7f7f7f"
        if pd.notna(row["ci_low"]):
            ax.plot([row["ci_low"], row["ci_high"]], [y, y], color=colour, linewidth=3,
                    label="配对种子 t 区间" if y == 0 else None)
        if pd.notna(row["boot_low"]):
            ax.plot([row["boot_low"], row["boot_high"]], [y - 0.22, y - 0.22], color=CATEGORICAL[1], linewidth=1.5,
                    label="测试图像 bootstrap 区间" if y == 0 else None)
        if pd.notna(row["diff"]):
            ax.plot(row["diff"], y, "o", color=colour, markersize=8,
                    markerfacecolor=colour if row["significant"] else "white")
            ax.annotate(f"{row['diff']:+.2f}", (row["diff"], y), textcoords="offset points", xytext=(0, 7),
                        ha="center", fontsize=9)
    ax.axvline(0.0, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(rows)), [f"{l}（{int(p)} 对）" for l, p in zip(rows["label"], rows["pairs"])])
    ax.set_ylim(-0.8, len(rows) - 0.4)
    ax.set_xlabel(difference_label(reference))
    ax.ticklabel_format(axis="x", useOffset=False, style="plain")
    if len(rows) and (rows["ci_low"].notna().any() or rows["boot_low"].notna().any()):
        ax.legend(fontsize=LEGEND_PT, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def confusion_heatmap(confusion, labels: Sequence[str], title: str = "") -> Figure:
    """A confusion matrix (rows: true class, columns: predicted) with the counts written in the
    cells; the colour is the share of the true class (row-normalised), so rows compare."""
    import numpy as np

    setup_style()
    counts = np.asarray(confusion)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(labels)
    fig, ax = plt.subplots(figsize=(0.62 * n + 2.2, 0.55 * n + 1.6))
    sns.heatmap(share * 100, annot=counts, fmt="d", cmap="Blues", cbar_kws={"label": "占真实类别的比例（%）"},
                xticklabels=labels, yticklabels=labels, annot_kws={"fontsize": 7.5}, ax=ax, square=True)
    ax.set(xlabel="预测类别", ylabel="真实类别", title=title)
    ax.tick_params(axis="x", rotation=0)
    ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


def per_class_plot(table: pd.DataFrame) -> Figure:
    """Per-class accuracy (rows: classes, columns: models) as grouped horizontal bars."""
    setup_style()
    long = table.reset_index(names="类别").melt(id_vars="类别", var_name="模型", value_name="准确率")
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 0.42 * len(table) * max(1, len(table.columns)) ** 0.5 + 1.5))
    sns.barplot(data=long, y="类别", x="准确率", hue="模型", ax=ax, orient="h",
                palette=categorical_palette(len(table.columns)))
    ax.set(xlabel="每类测试准确率（%，种子平均）", ylabel="")
    lo = float(long["准确率"].min())
    ax.set_xlim(max(0.0, lo - 10), 100)
    ax.legend(fontsize=LEGEND_PT, title=None, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def throughput_plot(table: pd.DataFrame, value: str, per_flop: str, label: str) -> Figure:
    """Two panels per model: ``value`` (images/s) and ``per_flop`` (achieved forward GFLOP/s),
    each bar with its number. ``table`` has a ``model`` column; rows with NaN are left out."""
    setup_style()
    rows = table.dropna(subset=[value]).sort_values(value, ascending=True)
    fig, axes = plt.subplots(1, 2, figsize=(FIGURE_WIDTH_IN, 0.36 * len(rows) + 1.4), sharey=True)
    for ax, column, xlabel, fmt in ((axes[0], value, label, "{:.0f}"),
                                    (axes[1], per_flop, "实际前向 GFLOP/s（图/秒 × 每图 GFLOP）", "{:.1f}")):
        ax.barh(rows["model"], rows[column], color=CATEGORICAL[0])
        for y, v in enumerate(rows[column]):
            if pd.notna(v):
                ax.annotate(fmt.format(v), (v, y), textcoords="offset points", xytext=(3, 0), va="center", fontsize=LEGEND_PT - 1)
        ax.set_xlabel(xlabel)
        ax.set_xlim(0, float(rows[column].max()) * 1.18 if rows[column].notna().any() else 1)
    fig.tight_layout()
    return fig


def policy_plot(effect: pd.DataFrame) -> Figure:
    """Speed-up of each execution-policy candidate over fp32/NCHW, per model (grouped bars)."""
    setup_style()
    candidates = [c for c in effect.columns if "/" in c]
    long = effect.melt(id_vars="model", value_vars=candidates, var_name="执行策略", value_name="加速比")
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 0.5 * len(effect) + 1.6))
    sns.barplot(data=long, y="model", x="加速比", hue="执行策略", orient="h", ax=ax,
                palette=categorical_palette(len(candidates)))
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    for y, best in enumerate(effect["best"]):
        ax.annotate(f"最快 ×{best:.2f}", (float(long["加速比"].max()) * 1.02, y), va="center", fontsize=LEGEND_PT - 1)
    ax.set_xlim(0, float(long["加速比"].max()) * 1.25)
    ax.set(xlabel="相对 fp32/NCHW 的训练步加速比（倍）", ylabel="")
    ax.legend(fontsize=LEGEND_PT, title=None, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    fig.tight_layout()
    return fig
