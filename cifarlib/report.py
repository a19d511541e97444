"""Helpers for the book: describe data sets and budgets, and summarise runs over seeds.

Every table the book prints comes from :func:`summary_table` over records in ``results/``, and
every number is shown next to :func:`budget_text` (which data set, how many images and epochs,
on what device).
"""

from __future__ import annotations

import pandas as pd

DATASET_DESCRIPTIONS: dict[str, str] = {
    "cifar100": "CIFAR-100 官方数据（100 类，5 万训练 / 1 万测试）",
    "cifar10": "CIFAR-10 官方数据（10 类，5 万训练 / 1 万测试）",
    "cifar10-jpeg": ("真实 CIFAR-10 图像的 JPEG 副本（质量约 75 的有损压缩，10 类；"
                     "准确率会略低于文献中官方 CIFAR-10 的数值）"),
    "cifar100-generated": "按 CIFAR-100 官方格式生成的合成数据（仅供测试，数值无意义）",
}


def dataset_description(tag: str) -> str:
    """A Chinese one-line description of a results data set tag."""
    return DATASET_DESCRIPTIONS.get(tag, f"图像文件夹数据集 {tag}")


def budget_text(runs: pd.DataFrame) -> str:
    """The budget behind a group of runs, in Chinese: data set, images, epochs, seeds, device."""
    if runs.empty:
        return "（无运行记录）"
    datasets = ", ".join(sorted(runs["dataset"].unique()))
    parts = [f"数据集：{datasets}（{dataset_description(runs['dataset'].iloc[0])}）"]

    def span(column: str) -> str:
        values = sorted(runs[column].unique())
        return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"

    parts.append(f"训练图像 {span('train_images')} 张，测试图像 {span('test_images')} 张")
    parts.append(f"{span('epochs')} 轮，批大小 {span('batch_size')}")
    seeds = runs.groupby("model")["seed"].nunique()
    parts.append(f"每个模型 {seeds.min()}–{seeds.max()} 个随机种子" if seeds.min() != seeds.max()
                 else f"每个模型 {seeds.min()} 个随机种子")
    parts.append("设备：" + "; ".join(sorted(runs["device"].unique())))
    return "；".join(parts) + "。"


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
    "params_m": "参数量 (M)", "gflops": "GFLOPs", "train_images_per_s": "训练吞吐 (图/秒)",
    "wall_time_min": "用时 (分钟)", "images_per_s": "推理吞吐 (图/秒)",
    "diff": "与基线之差 (点)", "ci_low": "95% CI 下限", "ci_high": "95% CI 上限", "pairs": "配对种子数",
    "significant": "显著", "verdict": "结论",
}


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
