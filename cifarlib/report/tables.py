"""Run tables of the book: the summary over seeds (:func:`summary_table`), its printed form, Chinese
headers, and each model against a reference paired by seed (:func:`comparison_table`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import pandas as pd

BOOK_PRESETS = ("offline", "graftcheck", "fullcheck", "study", "study_e10")  # the presets the results chapter shows
SINGLE_SEED_MARK = "（单种子）"


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample standard deviation over seeds, one row per (model, variant).

    With a single seed the standard deviation is left empty (NaN), not zero.
    """
    grouped = runs.groupby(["model", "variant"], sort=False)
    table = grouped.agg(
        method=("method", "first"), family=("family", "first"), seeds=("seed", "nunique"),
        epochs=("epochs", "first"), top1=("test_top1", "mean"), top1_sd=("test_top1", "std"),
        top5=("test_top5", "mean"), params_m=("params_m", "first"), gflops=("gflops", "first"),
        train_images_per_s=("train_images_per_s", "mean"), wall_time_min=("wall_time_s", "mean"),
    ).reset_index()
    table["wall_time_min"] = table["wall_time_min"] / 60
    return table.sort_values("top1", ascending=False, ignore_index=True)


CHINESE_COLUMNS = {
    "model": "模型", "variant": "变体", "method": "方法", "family": "类别", "seeds": "种子数",
    "epochs": "轮数", "top1": "top-1 (%)", "top1_sd": "top-1 标准差", "top5": "top-5 (%)",
    "params_m": "参数量（百万）", "gflops": "GFLOPs", "train_images_per_s": "训练吞吐（图/秒）",
    "wall_time_min": "用时（分钟）", "images_per_s": "推理吞吐（图/秒）",
    "diff": "与基线之差（百分点）", "ci_low": "95% CI 下限", "ci_high": "95% CI 上限", "pairs": "配对种子数",
    "significant": "显著", "verdict": "结论",
}


@lru_cache(maxsize=4)
def plan_order(presets: tuple[str, ...] = BOOK_PRESETS) -> dict[str, tuple[tuple[str, str], ...]]:
    """Each experiment's (model, variant) arms in the order ``experiments/plan.yaml`` plans them
    (first preset that plans an arm wins); the study's reference comes first in its experiment."""
    from .study_plan import planned_runs

    order: dict[str, dict[tuple[str, str], None]] = {}
    for preset in presets:
        for row in planned_runs(preset).itertuples(index=False):
            order.setdefault(row.experiment, {}).setdefault((row.model, row.variant), None)
    return {experiment: tuple(arms) for experiment, arms in order.items()}


def in_arm_order(summary: pd.DataFrame, order: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """A :func:`summary_table` sorted by arm (``order``: (model, variant) in plan order, unplanned
    arms after, by name), rows with more than one seed first and the single-seed rows apart after
    them (``single`` column): a one-seed mean is not ranked among averages over seeds."""
    position = {arm: i for i, arm in enumerate(order)}
    key = [position.get((m, v), len(position)) for m, v in zip(summary["model"], summary["variant"])]
    out = summary.assign(single=summary["seeds"] < 2, _pos=key)
    return out.sort_values(["single", "_pos", "model", "variant"], ignore_index=True).drop(columns="_pos")


def group_display(summary: pd.DataFrame) -> pd.DataFrame:
    """A :func:`summary_table` as the book prints it: top-1 as ``mean ± sd`` in one column, the
    variant only when a group has more than the default one, no epochs (the budget line above
    every table states them), rounded numbers and Chinese headers; after :func:`in_arm_order`,
    single-seed rows among multi-seed ones are marked 单种子."""
    def fmt(values: pd.Series, spec: str) -> list[str]:
        return ["—" if pd.isna(v) else format(v, spec) for v in values]

    model = summary["model"]
    if "single" in summary and summary["single"].any() and not summary["single"].all():
        model = model.where(~summary["single"], model + SINGLE_SEED_MARK)  # apart and marked
    shown = {"模型": model}
    if set(summary["variant"]) != {"default"}:
        shown["变体"] = summary["variant"]
    shown.update({
        "方法": summary["method"], "种子数": summary["seeds"].astype(int),
        "top-1 (%)": [f"{m:.2f}" if pd.isna(s) else f"{m:.2f} ± {s:.2f}"
                      for m, s in zip(summary["top1"], summary["top1_sd"])],
        "top-5 (%)": fmt(summary["top5"], ".2f"), "参数量（百万）": fmt(summary["params_m"], ".3f"),
        "GFLOPs": fmt(summary["gflops"], ".3f"), "训练吞吐（图/秒）": fmt(summary["train_images_per_s"], ".0f"),
        "用时（分钟）": fmt(summary["wall_time_min"], ".1f"),
    })
    return pd.DataFrame(shown)


def chinese_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Rename known columns to their Chinese headers."""
    return table.rename(columns=CHINESE_COLUMNS)


def comparison_table(runs: pd.DataFrame, reference: str = "resnet20",
                     reference_variant: str | None = None) -> pd.DataFrame:
    """Each (model, variant) against ``reference`` as a paired-by-seed top-1 difference with a 95 % CI.

    ``runs`` should hold one data set and one experiment (one budget). Columns: ``model``,
    ``variant``, ``diff`` (points), ``ci_low``, ``ci_high``, ``pairs`` (shared seeds),
    ``significant`` (the interval excludes 0) and ``verdict`` (Chinese). An empty table is
    returned when the reference has no runs, so a chapter can say so instead of inventing one.
    """
    from .stats import paired_difference, significant, verdict

    columns = ["model", "variant", "diff", "ci_low", "ci_high", "pairs", "significant", "verdict"]
    ref = runs[runs["model"] == reference]
    if reference_variant is not None:
        ref = ref[ref["variant"] == reference_variant]
    if ref.empty:
        return pd.DataFrame(columns=columns)
    ref_by_seed = dict(zip(ref["seed"], ref["test_top1"]))
    rows = []
    for (model, variant), group in runs.groupby(["model", "variant"], sort=False):
        if model == reference and (reference_variant is None or variant == reference_variant):
            continue
        if not set(group["seed"]) & set(ref_by_seed):
            continue
        interval = paired_difference(dict(zip(group["seed"], group["test_top1"])), ref_by_seed)
        rows.append({"model": model, "variant": variant, "diff": interval.estimate,
                     "ci_low": interval.low, "ci_high": interval.high, "pairs": interval.n,
                     "significant": significant(interval), "verdict": verdict(interval)})
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("diff", ascending=False, ignore_index=True)


def format_interval(low: float, high: float, digits: int = 2) -> str:
    """``[low, high]`` with signs, or an em dash when the interval is undefined."""
    if pd.isna(low) or pd.isna(high):
        return "—"
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"
