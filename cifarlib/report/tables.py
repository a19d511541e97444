"""Helpers for the book: describe data sets and budgets, and summarise runs over seeds.

Every table the book prints comes from :func:`summary_table` over records in ``results/``, and
every number is shown next to :func:`budget_text` (which data set, how many images and epochs,
on what device).
"""

from __future__ import annotations

import re

from dataclasses import dataclass

import pandas as pd

from ..data import CIFAR100_SUPERCLASSES

DATASET_DESCRIPTIONS: dict[str, str] = {
    "cifar100": "CIFAR-100 官方数据（100 类，5 万训练 / 1 万测试）",
    "cifar10": "CIFAR-10 官方数据（10 类，5 万训练 / 1 万测试）",
    "cifar10-jpeg": ("真实 CIFAR-10 图像的 JPEG 副本（质量约 75 的有损压缩，10 类；"
                     "准确率会略低于文献中官方 CIFAR-10 的数值）"),
    "cifar100-generated": "按 CIFAR-100 官方格式生成的合成数据（仅供测试，数值无意义）",
}


DATASET_SHORT_NAMES: dict[str, str] = {"cifar100": "CIFAR-100", "cifar10": "CIFAR-10",
                                       "cifar10-jpeg": "CIFAR-10 JPEG 副本"}


def dataset_description(tag: str) -> str:
    """A Chinese one-line description of a results data set tag."""
    return DATASET_DESCRIPTIONS.get(tag, f"图像文件夹数据集 {tag}")


def device_zh(device: str) -> str:
    """A record's device name for Chinese prose: ``"AMD EPYC (1 threads)"`` -> ``"AMD EPYC（1 线程）"``."""
    return re.sub(r" \((\d+) threads?\)$", r"（\1 线程）", device)


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
    parts.append("设备：" + "；".join(device_zh(d) for d in sorted(runs["device"].unique())))
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


def group_display(summary: pd.DataFrame) -> pd.DataFrame:
    """A :func:`summary_table` as the book prints it: top-1 as ``mean ± sd`` in one column, the
    variant only when a group has more than the default one, no epochs (the budget line above
    every table states them), rounded numbers and Chinese headers."""
    def fmt(values: pd.Series, spec: str) -> list[str]:
        return ["—" if pd.isna(v) else format(v, spec) for v in values]

    shown = {"模型": summary["model"]}
    if set(summary["variant"]) != {"default"}:
        shown["变体"] = summary["variant"]
    shown.update({
        "方法": summary["method"], "种子数": summary["seeds"].astype(int),
        "top-1 (%)": [f"{m:.2f}" if pd.isna(s) else f"{m:.2f} ± {s:.2f}"
                      for m, s in zip(summary["top1"], summary["top1_sd"])],
        "top-5 (%)": fmt(summary["top5"], ".2f"), "参数量 (M)": fmt(summary["params_m"], ".3f"),
        "GFLOPs": fmt(summary["gflops"], ".3f"), "训练吞吐 (图/秒)": fmt(summary["train_images_per_s"], ".0f"),
        "用时 (分钟)": fmt(summary["wall_time_min"], ".1f"),
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


# ---------------------------------------------------------------------------------------------
# The study: which planned runs exist, and the ablations against their references
# ---------------------------------------------------------------------------------------------

RUN_KEYS = ["experiment", "model", "variant", "seed"]


def planned_runs(preset: str = "study") -> pd.DataFrame:
    """The runs a preset of ``experiments/plan.yaml`` plans (no data needed): one row per run."""
    from ..sweep import plan_runs

    return pd.DataFrame([{"experiment": r.experiment, "model": r.model, "variant": r.variant,
                          "seed": int(r.seed)} for r in plan_runs(preset)], columns=RUN_KEYS)


def missing_runs(runs: pd.DataFrame, planned: pd.DataFrame) -> pd.DataFrame:
    """The planned runs (``experiment, model, variant, seed``) that have no record in ``runs``."""
    if runs.empty:
        return planned.reset_index(drop=True)
    done = set(map(tuple, runs[RUN_KEYS].astype({"seed": int}).itertuples(index=False)))
    keep = [tuple(row) not in done for row in planned[RUN_KEYS].itertuples(index=False)]
    return planned[keep].reset_index(drop=True)


def missing_summary(missing: pd.DataFrame) -> pd.DataFrame:
    """Missing runs grouped per experiment / model / variant with their seeds, Chinese headers."""
    columns = ["实验", "模型", "变体", "缺少的种子"]
    if missing.empty:
        return pd.DataFrame(columns=columns)
    rows = [{"实验": e, "模型": m, "变体": v, "缺少的种子": ", ".join(str(s) for s in sorted(g["seed"]))}
            for (e, m, v), g in missing.groupby(["experiment", "model", "variant"], sort=False)]
    return pd.DataFrame(rows, columns=columns)


def missing_text(missing: pd.DataFrame, planned: pd.DataFrame, experiments: list[str] | None = None) -> str:
    """A Chinese sentence: how many planned runs (of ``experiments``, default all) are not done yet."""
    if experiments is not None:
        missing = missing[missing["experiment"].isin(experiments)]
        planned = planned[planned["experiment"].isin(experiments)]
    total, absent = len(planned), len(missing)
    if absent == 0:
        return f"计划中的 {total} 个运行已全部完成。"
    per_exp = "，".join(f"`{e}` 缺 {n} 个" for e, n in missing.groupby("experiment", sort=False).size().items())
    return (f"计划中的 {total} 个运行里还有 **{absent} 个尚未完成**（{per_exp}）；"
            "它们的记录写入 `results/` 后重建本书，本章的数字会随之更新。")


@dataclass(frozen=True)
class Arm:
    """One (experiment, model, variant) of the study, with the label the book shows for it."""

    experiment: str
    model: str
    variant: str
    label: str


@dataclass(frozen=True)
class Ablation:
    """An ablation: ``arms`` each compared with ``reference`` (paired by seed)."""

    key: str
    title: str
    reference: Arm
    arms: tuple[Arm, ...]


STUDY_ABLATIONS: tuple[Ablation, ...] = (
    Ablation("eca_onoff", "ECA 开 / 关",
             Arm("main", "resnet20", "default", "关（resnet20）"),
             (Arm("main", "eca_resnet20", "default", "开（eca_resnet20）"),)),
    Ablation("eca_k", "ECA 卷积核大小",
             Arm("main", "eca_resnet20", "default", "自适应 k（本骨干上 k=3）"),
             (Arm("ablation_eca_k", "eca_resnet20", "k5", "k=5"),
              Arm("ablation_eca_k", "eca_resnet20", "k7", "k=7"))),
    Ablation("position", "注意力的位置",
             Arm("main", "eca_resnet20", "default", "残差相加之前（pre_add，论文做法）"),
             (Arm("ablation_position", "eca_resnet20", "post_add", "残差相加之后（post_add）"),)),
    Ablation("ghost_ratio", "Ghost 比例",
             Arm("main", "ghost_resnet20", "default", "s=2（默认）"),
             (Arm("ablation_ghost_ratio", "ghost_resnet20", "r3", "s=3"),
              Arm("ablation_ghost_ratio", "ghost_resnet20", "r4", "s=4"))),
    Ablation("label_smoothing", "标签平滑",
             Arm("main", "resnet20", "default", "ε=0.1（默认）"),
             (Arm("ablation_ls", "resnet20", "ls0", "ε=0（不平滑）"),)),
    Ablation("layer_scale", "ConvNeXt 嫁接的层缩放初值",
             Arm("main_iso", "convnext_resnet20_iso", "default", "γ₀=10⁻⁶（论文）"),
             (Arm("ablation_layer_scale", "convnext_resnet20_iso", "ls1", "γ₀=1"),)),
)


def arm_runs(runs: pd.DataFrame, arm: Arm) -> pd.DataFrame:
    """The records of one arm (all seeds)."""
    if runs.empty:
        return runs
    return runs[(runs["experiment"] == arm.experiment) & (runs["model"] == arm.model)
                & (runs["variant"] == arm.variant)]


def mean_correct(details: list[dict], arm: Arm, seeds: list[int]) -> "np.ndarray | None":
    """Per-image correctness of ``arm`` averaged over ``seeds`` (None when a seed lacks it)."""
    import numpy as np

    vectors = []
    for seed in seeds:
        found = [d["correct"] for d in details if d["experiment"] == arm.experiment and d["model"] == arm.model
                 and d["variant"] == arm.variant and d["seed"] == seed and d.get("correct") is not None]
        if not found:
            return None
        vectors.append(found[0].astype(float))
    return np.mean(vectors, axis=0) if vectors else None


ABLATION_COLUMNS = ["label", "role", "experiment", "model", "variant", "seeds", "top1", "top1_sd", "diff",
                    "ci_low", "ci_high", "p_value", "pairs", "boot_low", "boot_high", "significant", "verdict"]


def ablation_table(runs: pd.DataFrame, details: list[dict], ablation: Ablation,
                   resamples: int = 2000) -> pd.DataFrame:
    """The reference and each arm of ``ablation`` that has records: top-1 mean / sd / seeds, and
    for the arms the paired-by-seed difference to the reference with its 95 % t interval
    (``ci_low``, ``ci_high``, and its two-sided ``p_value``) and, as a second view, a bootstrap over
    test images of the same difference (per-image correctness averaged over the shared seeds;
    ``boot_low``, ``boot_high``).
    ``significant`` and ``verdict`` follow the paired interval (:func:`cifarlib.report.stats.verdict`).
    """
    import math

    from .stats import bootstrap_difference, mean_sd, paired_difference, significant, verdict

    rows = []
    ref = arm_runs(runs, ablation.reference)
    ref_by_seed = dict(zip(ref["seed"].astype(int), ref["test_top1"])) if len(ref) else {}
    for role, arm in [("reference", ablation.reference)] + [("arm", a) for a in ablation.arms]:
        group = arm_runs(runs, arm)
        if group.empty:
            continue
        mean, sd = mean_sd(list(group["test_top1"]))
        row = {"label": arm.label, "role": role, "experiment": arm.experiment, "model": arm.model,
               "variant": arm.variant, "seeds": int(group["seed"].nunique()), "top1": mean, "top1_sd": sd,
               "diff": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan, "pairs": 0,
               "boot_low": math.nan, "boot_high": math.nan, "significant": False, "verdict": "参考"}
        by_seed = dict(zip(group["seed"].astype(int), group["test_top1"]))
        shared = sorted(set(by_seed) & set(ref_by_seed))
        if role == "arm":
            row["verdict"] = "参考组没有记录，无法比较"
            if shared:
                interval = paired_difference(by_seed, ref_by_seed)
                row.update(diff=interval.estimate, ci_low=interval.low, ci_high=interval.high,
                           p_value=interval.p_value, pairs=interval.n, significant=significant(interval),
                           verdict=verdict(interval))
                a = mean_correct(details, arm, shared)
                b = mean_correct(details, ablation.reference, shared)
                if a is not None and b is not None and a.shape == b.shape:
                    boot = bootstrap_difference(a, b, resamples=resamples)
                    row.update(boot_low=boot.low, boot_high=boot.high)
            elif ref_by_seed:
                row["verdict"] = "与参考组没有共同的种子"
        rows.append(row)
    return pd.DataFrame(rows, columns=ABLATION_COLUMNS)


ABLATION_HEADERS = {
    "label": "设置", "seeds": "种子数", "top1": "top-1 均值 (%)", "top1_sd": "种子间标准差",
    "diff": "差 (点)", "paired_ci": "95% 配对 t 区间", "boot_ci": "95% bootstrap 区间",
    "verdict": "结论",
}


def format_interval(low: float, high: float, digits: int = 2) -> str:
    """``[low, high]`` with signs, or an em dash when the interval is undefined."""
    if pd.isna(low) or pd.isna(high):
        return "—"
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def short_verdict(row: pd.Series) -> str:
    """The paired interval's call in a table cell's few characters (the sentences spell it out):
    显著更高 / 显著更低 / 跨过 0 / 仅 1 对种子, or 参考 for the reference row."""
    if row.get("role") == "reference":
        return "参考"
    if pd.isna(row["ci_low"]):
        return f"仅 {int(row['pairs'])} 对种子"
    if not row["significant"]:
        return "跨过 0"
    return "显著更高" if row["diff"] > 0 else "显著更低"


def ablation_display(table: pd.DataFrame) -> pd.DataFrame:
    """The table the book prints for :func:`ablation_table`: short Chinese headers and calls,
    rounded numbers."""
    out = pd.DataFrame({
        "设置": table["label"] + table["role"].map({"reference": "（参考）", "arm": ""}),
        "种子数": table["seeds"].astype(int),
        "top-1 (%)": [f"{m:.2f} ± {s:.2f}" if pd.notna(s) else f"{m:.2f}" for m, s in zip(table["top1"], table["top1_sd"])],
        ABLATION_HEADERS["diff"]: ["—" if pd.isna(d) else f"{d:+.2f}" for d in table["diff"]],
        ABLATION_HEADERS["paired_ci"]: [format_interval(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"])],
        ABLATION_HEADERS["boot_ci"]: [format_interval(lo, hi) for lo, hi in zip(table["boot_low"], table["boot_high"])],
        ABLATION_HEADERS["verdict"]: [short_verdict(r) for _, r in table.iterrows()],
    })
    return out


def ablation_sentence(table: pd.DataFrame, reference_label: str) -> str:
    """One Chinese sentence per arm, worded by the paired interval (never "better" across zero)."""
    arms = table[table["role"] == "arm"]
    if table.empty or (table["role"] == "reference").sum() == 0:
        return f"参考组（{reference_label}）还没有记录，这一消融暂时无法比较。"
    if arms.empty:
        return "这一消融的对照组还没有任何记录。"
    parts = []
    for _, row in arms.iterrows():
        if pd.isna(row["diff"]):
            parts.append(f"{row['label']}：{row['verdict']}")
        elif pd.isna(row["ci_low"]):
            parts.append(f"{row['label']} 与参考相差 {row['diff']:+.2f} 个百分点，但只有 1 对种子，给不出区间，不下结论")
        elif row["significant"]:
            word = "高" if row["diff"] > 0 else "低"
            parts.append(f"{row['label']} 比参考{word} {abs(row['diff']):.2f} 个百分点，95% 配对区间 "
                         f"{format_interval(row['ci_low'], row['ci_high'])} 不含 0（{row['pairs']} 对种子）")
        else:
            parts.append(f"{row['label']} 与参考之差为 {row['diff']:+.2f} 个百分点，95% 配对区间 "
                         f"{format_interval(row['ci_low'], row['ci_high'])} 跨过 0（{row['pairs']} 对种子），"
                         "在这一预算下没有可检测的差异")
    return "；".join(parts) + "。"


# ---------------------------------------------------------------------------------------------
# Per-class analysis
# ---------------------------------------------------------------------------------------------

CIFAR10_CHINESE = {"airplane": "飞机", "automobile": "汽车", "bird": "鸟", "cat": "猫", "deer": "鹿",
                   "dog": "狗", "frog": "青蛙", "horse": "马", "ship": "船", "truck": "卡车"}

# CIFAR-100's 20 superclasses and their five classes each: cifarlib.data.CIFAR100_SUPERCLASSES.
CIFAR100_SUPERCLASS_CHINESE = {
    "aquatic_mammals": "水生哺乳动物", "fish": "鱼", "flowers": "花", "food_containers": "食品容器",
    "fruit_and_vegetables": "水果与蔬菜", "household_electrical_devices": "家用电器",
    "household_furniture": "家具", "insects": "昆虫", "large_carnivores": "大型食肉动物",
    "large_man-made_outdoor_things": "大型人造户外物体", "large_natural_outdoor_scenes": "大型自然户外场景",
    "large_omnivores_and_herbivores": "大型杂食与食草动物", "medium_mammals": "中型哺乳动物",
    "non-insect_invertebrates": "非昆虫无脊椎动物", "people": "人", "reptiles": "爬行动物",
    "small_mammals": "小型哺乳动物", "trees": "树", "vehicles_1": "车辆 1", "vehicles_2": "车辆 2",
}


def cifar100_fine_to_coarse() -> dict[str, str]:
    """Each of the 100 CIFAR-100 class names -> its superclass name."""
    return {fine: coarse for coarse, fines in CIFAR100_SUPERCLASSES.items() for fine in fines}


def cifar100_coarse_indices() -> list[int]:
    """Coarse label index of each fine label index (both in the data set's alphabetical order)."""
    coarse_names = sorted(CIFAR100_SUPERCLASSES)
    mapping = cifar100_fine_to_coarse()
    return [coarse_names.index(mapping[fine]) for fine in sorted(mapping)]


def superclass_confusion(confusion: "np.ndarray", classes: list[str],
                         fine_to_coarse: dict[str, str] | None = None) -> tuple["np.ndarray", list[str]]:
    """Sum a fine-class confusion matrix (rows: true, columns: predicted) into superclass blocks.

    Returns the (superclass x superclass) matrix and the superclass names in order of first
    appearance among ``classes``. Its diagonal counts predictions in the right superclass (even
    when the fine class is wrong).
    """
    import numpy as np

    mapping = cifar100_fine_to_coarse() if fine_to_coarse is None else fine_to_coarse
    confusion = np.asarray(confusion)
    if confusion.shape != (len(classes), len(classes)):
        raise ValueError(f"confusion is {confusion.shape}, but {len(classes)} classes were given")
    unknown = [c for c in classes if c not in mapping]
    if unknown:
        raise KeyError(f"no superclass for {unknown[:5]}")
    coarse = list(dict.fromkeys(mapping[c] for c in classes))
    index = np.array([coarse.index(mapping[c]) for c in classes])
    onehot = np.zeros((len(classes), len(coarse)), dtype=confusion.dtype)
    onehot[np.arange(len(classes)), index] = 1
    return onehot.T @ confusion @ onehot, coarse


def superclass_table(confusion: "np.ndarray", classes: list[str],
                     fine_to_coarse: dict[str, str] | None = None) -> pd.DataFrame:
    """Per superclass: fine-class accuracy, superclass accuracy (any class of the right superclass)
    and the share of errors that stay inside the superclass, in percent."""
    import numpy as np

    mapping = cifar100_fine_to_coarse() if fine_to_coarse is None else fine_to_coarse
    confusion = np.asarray(confusion)
    coarse_matrix, coarse = superclass_confusion(confusion, classes, mapping)
    rows = []
    for k, name in enumerate(coarse):
        members = [i for i, c in enumerate(classes) if mapping[c] == name]
        total = confusion[members].sum()
        right_fine = confusion[members, members].sum()
        right_coarse = coarse_matrix[k, k]
        errors = total - right_fine
        rows.append({"superclass": name, "images": int(total),
                     "fine_accuracy": 100 * right_fine / total if total else np.nan,
                     "coarse_accuracy": 100 * right_coarse / total if total else np.nan,
                     "errors_within": 100 * (right_coarse - right_fine) / errors if errors else np.nan})
    return pd.DataFrame(rows)


def class_accuracy(confusion: "np.ndarray") -> "np.ndarray":
    """Per-class accuracy (%) from a confusion matrix (rows: true class)."""
    import numpy as np

    confusion = np.asarray(confusion, dtype=float)
    totals = confusion.sum(axis=1)
    return 100 * np.divide(np.diag(confusion), totals, out=np.full(len(totals), np.nan), where=totals > 0)


def per_class_means(details: list[dict], experiment: str = "main", variant: str = "default") -> pd.DataFrame:
    """Per-class accuracy from the confusion matrices, averaged over seeds: rows = classes,
    columns = models (in order of first appearance), plus the seed counts in ``attrs['seeds']``."""
    acc: dict[str, list] = {}
    classes: list[str] | None = None
    for d in details:
        if d["experiment"] != experiment or d["variant"] != variant or d.get("confusion") is None:
            continue
        classes = classes or list(d["classes"])
        if list(d["classes"]) != classes:
            continue
        acc.setdefault(d["model"], []).append(class_accuracy(d["confusion"]))
    if classes is None:
        return pd.DataFrame()
    import numpy as np

    table = pd.DataFrame({m: np.mean(v, axis=0) for m, v in acc.items()}, index=classes)
    table.attrs["seeds"] = {m: len(v) for m, v in acc.items()}
    return table


def summed_confusion(details: list[dict], experiment: str, model: str,
                     variant: str = "default") -> tuple["np.ndarray | None", list[str], int]:
    """The confusion matrices of one model summed over its seeds: (matrix, classes, seeds)."""
    mats = [d for d in details if d["experiment"] == experiment and d["model"] == model
            and d["variant"] == variant and d.get("confusion") is not None]
    if not mats:
        return None, [], 0
    return sum(d["confusion"] for d in mats), list(mats[0]["classes"]), len(mats)


def confused_pairs(confusion: "np.ndarray", classes: list[str], top: int = 5) -> pd.DataFrame:
    """The class pairs most often mistaken for each other (both directions added), most first.

    Columns: ``a``, ``b``, ``a_as_b`` (true a predicted b), ``b_as_a``, ``total`` and ``share``
    (the total as a percentage of the two classes' test images).
    """
    import numpy as np

    c = np.asarray(confusion)
    totals = c.sum(axis=1)
    rows = []
    for i in range(len(classes)):
        for j in range(i + 1, len(classes)):
            both = int(c[i, j] + c[j, i])
            rows.append({"a": classes[i], "b": classes[j], "a_as_b": int(c[i, j]), "b_as_a": int(c[j, i]),
                         "total": both, "share": 100 * both / (totals[i] + totals[j]) if totals[i] + totals[j] else np.nan})
    table = pd.DataFrame(rows, columns=["a", "b", "a_as_b", "b_as_a", "total", "share"])
    return table.sort_values(["total", "a", "b"], ascending=[False, True, True], ignore_index=True).head(top)


def chinese_class(name: str) -> str:
    """The Chinese name of a CIFAR-10 class (other names are returned unchanged)."""
    return CIFAR10_CHINESE.get(name, name)


# ---------------------------------------------------------------------------------------------
# Efficiency
# ---------------------------------------------------------------------------------------------

def parse_autotune_table(text: str) -> pd.DataFrame:
    """Parse ``benchmarks/results/autotune_cpu.txt`` (the text ``benchmarks/autotune_table.py`` prints).

    One row per model: ``model``, one column of seconds per training step per candidate
    (``fp32/NCHW`` ...), ``chosen``, ``images_per_s`` and ``fwd_gflop_per_s``. The comment lines
    (``# ...``) are kept in ``attrs['comments']`` (they name the CPU, threads and batch size).
    """
    comments = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines or not lines[0].split()[0] == "model":
        raise ValueError("not an autotune table: the first non-comment line must be the header 'model ...'")
    candidates = [tok for tok in lines[0].split() if tok.startswith(("fp32/", "bf16/", "fp16/"))]
    rows = []
    for line in lines[1:]:
        tokens = line.split()
        expected = 1 + len(candidates) + 3
        if len(tokens) != expected:
            raise ValueError(f"autotune row has {len(tokens)} fields, expected {expected}: {line!r}")
        row = {"model": tokens[0]}
        row.update({c: float(v) for c, v in zip(candidates, tokens[1:1 + len(candidates)])})
        row.update(chosen=tokens[1 + len(candidates)], images_per_s=float(tokens[-2]),
                   fwd_gflop_per_s=float(tokens[-1]))
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["comments"] = comments
    table.attrs["candidates"] = candidates
    return table


def batch_size_from_comments(comments: list[str], default: int = 128) -> int:
    """The batch size named in the autotune table's comment lines (``batch 128``)."""
    import re

    for line in comments:
        if match := re.search(r"batch (\d+)", line):
            return int(match.group(1))
    return default


def policy_effect(autotune: pd.DataFrame, baseline: str = "fp32/NCHW") -> pd.DataFrame:
    """Speed-up of every candidate over ``baseline`` (ratio of seconds per step; > 1 is faster)."""
    candidates = autotune.attrs.get("candidates") or [c for c in autotune.columns if "/" in c and c[:4] in ("fp32", "bf16")]
    out = pd.DataFrame({"model": autotune["model"]})
    for c in candidates:
        out[c] = autotune[baseline] / autotune[c]
    out["best"] = out[candidates].max(axis=1)
    out["chosen"] = autotune["chosen"]
    return out


def record_policy_effect(details: list[dict], experiment: str = "main") -> pd.DataFrame:
    """From the records' ``execution_policy.seconds_per_step``: per model the median over runs of
    the chosen candidate's speed-up over fp32/NCHW, the policies chosen and the run count."""
    rows = []
    for d in details:
        policy = d.get("execution_policy") or {}
        steps = policy.get("seconds_per_step") or {}
        if d["experiment"] != experiment or "fp32/NCHW" not in steps:
            continue
        label = f"{policy['precision']}/{'channels_last' if policy['channels_last'] else 'NCHW'}"
        if label not in steps:
            continue
        rows.append({"model": d["model"], "policy": label, "speedup": steps["fp32/NCHW"] / steps[label]})
    if not rows:
        return pd.DataFrame(columns=["model", "runs", "policies", "speedup"])
    frame = pd.DataFrame(rows)
    return frame.groupby("model", sort=False).agg(
        runs=("speedup", "size"), policies=("policy", lambda s: "、".join(sorted(set(s)))),
        speedup=("speedup", "median")).reset_index()


def efficiency_table(runs: pd.DataFrame, autotune: pd.DataFrame | None = None,
                     inference: pd.DataFrame | None = None, experiment: str = "main") -> pd.DataFrame:
    """Per model: parameters, forward GFLOPs, training images/s (quiet benchmark and, separately,
    the records' mean / min / max over runs), achieved forward GFLOP/s (images/s x GFLOP per
    image) and inference images/s. Models come from the records' ``experiment`` and the benchmark.
    """
    models: list[str] = []
    group = runs[runs["experiment"] == experiment] if len(runs) else runs
    if len(group):
        models += list(dict.fromkeys(group["model"]))
    if autotune is not None:
        models += [m for m in autotune["model"] if m not in models]
    cost = {}
    if inference is not None:
        cost.update({m: (p, g) for m, p, g in zip(inference["model"], inference["params_m"], inference["gflops"])})
    if len(group):
        for m, g in group.groupby("model"):
            cost[m] = (float(g["params_m"].iloc[0]), float(g["gflops"].iloc[0]))
    rows = []
    for m in models:
        params, gflops = cost.get(m, (float("nan"), float("nan")))
        row = {"model": m, "params_m": params, "gflops": gflops}
        if autotune is not None and m in set(autotune["model"]):
            a = autotune[autotune["model"] == m].iloc[0]
            row.update(bench_images_per_s=a["images_per_s"], bench_policy=a["chosen"])
        g = group[group["model"] == m] if len(group) else group
        if len(g):
            row.update(record_images_per_s=g["train_images_per_s"].mean(),
                       record_min=g["train_images_per_s"].min(), record_max=g["train_images_per_s"].max(),
                       record_runs=len(g))
        if inference is not None and m in set(inference["model"]):
            row["inference_images_per_s"] = float(inference.loc[inference["model"] == m, "images_per_s"].iloc[0])
        rows.append(row)
    columns = ["model", "params_m", "gflops", "bench_images_per_s", "bench_policy", "record_images_per_s",
               "record_min", "record_max", "record_runs", "inference_images_per_s"]
    table = pd.DataFrame(rows).reindex(columns=columns)
    table["bench_gflop_per_s"] = table["bench_images_per_s"] * table["gflops"]
    table["inference_gflop_per_s"] = table["inference_images_per_s"] * table["gflops"]
    return table


def study_runs(runs: pd.DataFrame, planned: pd.DataFrame) -> pd.DataFrame:
    """The records of the study's experiments on one data set (CIFAR-100 when it has any, else the
    data set with most of them); generated test data is never part of the study."""
    if runs.empty:
        return runs
    rows = runs[runs["experiment"].isin(set(planned["experiment"])) & ~runs["dataset"].str.endswith("-generated")]
    if rows.empty:
        return rows
    counts = rows["dataset"].value_counts()
    dataset = "cifar100" if "cifar100" in counts else counts.index[0]
    return rows[rows["dataset"] == dataset]


def main_ablation(runs: pd.DataFrame, reference: str = "resnet20", experiment: str = "main",
                  reference_experiment: str | None = None) -> Ablation:
    """Every model of ``experiment`` against ``reference`` (a model of ``reference_experiment``,
    default the same experiment) as an :class:`Ablation`, for :func:`ablation_table`."""
    models = [] if runs.empty else list(dict.fromkeys(runs.loc[runs["experiment"] == experiment, "model"]))
    ref_exp = reference_experiment or experiment
    return Ablation(experiment, experiment, Arm(ref_exp, reference, "default", reference),
                    tuple(Arm(experiment, m, "default", m) for m in models if m != reference))


def parse_profile(text: str) -> pd.DataFrame:
    """The per-model summary of ``benchmarks/profile_grafts.py``'s output: ms per step, and for
    depthwise and dense convolutions their share of the step and the GFLOP/s they achieve."""
    import re

    rows, current = [], None
    for line in text.splitlines():
        head = re.match(r"## (\S+): (\d+) ms per step", line)
        if head:
            current = {"model": head.group(1), "ms_per_step": float(head.group(2))}
            rows.append(current)
            continue
        kind = re.match(r"(depthwise|dense) convs\s+([\d.]+) ms/step \(\s*([\d.]+)% of the step\),\s+([\d.]+) GFLOP,\s+([\d.]+) GFLOP/s", line)
        if kind and current is not None:
            current[f"{kind.group(1)}_share"] = float(kind.group(3))
            current[f"{kind.group(1)}_gflops_per_s"] = float(kind.group(5))
    return pd.DataFrame(rows)


def overview_answer(runs: pd.DataFrame, planned: pd.DataFrame, reference: str = "resnet20") -> str:
    """The overview's answer in Chinese, from the study's records: the backbone's top-1, then for
    the iso-parameter set (the headline) and the as-designed set which grafts differ from the
    backbone by the paired-by-seed 95 % interval, and how much of the plan is still missing."""
    from .stats import mean_sd

    runs = study_runs(runs, planned)
    if runs.empty:
        return "研究计划（`study` 预设）还没有任何运行记录，所以本书暂时给不出回答。"
    ref = runs[(runs["experiment"] == "main") & (runs["model"] == reference) & (runs["variant"] == "default")]
    if ref.empty:
        return f"研究的参照模型 `{reference}` 还没有运行记录，所以本书暂时给不出回答。"
    mean, sd = mean_sd(list(ref["test_top1"]))
    budget = (f"{DATASET_SHORT_NAMES.get(ref['dataset'].iloc[0], ref['dataset'].iloc[0])}，"
              f"{int(ref['train_images'].iloc[0])} 张训练图像，{int(ref['epochs'].iloc[0])} 轮，"
              f"{ref['seed'].nunique()} 个种子")
    parts = [f"在研究的预算下（{budget}，详见实验设置一章）骨干 `{reference}` 的测试集 top-1 为 **{mean:.2f} ± {sd:.2f}%**"]

    def listing(table: pd.DataFrame) -> str:
        return "、".join(f"`{r['model']}`（{r['diff']:+.2f}，[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]）"
                         for _, r in table.iterrows())

    for experiment, label in (("main_iso", "等参数版（主比较）"), ("main", "按原设计嫁接的版本")):
        group = runs[(runs["experiment"] == experiment) & (runs["variant"] == "default")]
        graft_total = len(set(planned.loc[planned["experiment"] == experiment, "model"]) - {reference})
        done = group.groupby("model")["seed"].nunique()
        planned_seeds = planned[planned["experiment"] == experiment].groupby("model")["seed"].nunique()
        single = [m for m in done.index if m != reference and planned_seeds.get(m, 0) == 1]
        single_text = (f"；{label}中按计划只跑 1 个种子的 {'、'.join(f'`{m}`' for m in single)} 没有区间，不下结论"
                       if single else "")
        done = done[done >= 2].index.difference([reference])
        if done.empty:
            parts.append(f"{label}还没有任何模型完成至少 2 个种子{single_text}")
            continue
        table = comparison_table(pd.concat([ref, group[group["model"].isin(done)]]), reference=reference)
        higher = table[table["significant"] & (table["diff"] > 0)]
        lower = table[table["significant"] & (table["diff"] < 0)]
        neutral = table[~table["significant"]]
        text = f"{label}已有 {len(table)}/{graft_total} 个嫁接模型的结果（至少 2 个种子）："
        text += f"显著高于骨干的有 {listing(higher)}" if len(higher) else "没有一个显著高于骨干"
        if len(lower):
            text += f"，显著更低的有 {listing(lower)}"
        if len(neutral):
            text += f"，区间跨过 0 的有 {'、'.join(f'`{m}`' for m in neutral['model'])}"
        parts.append(text + single_text)
    missing = missing_runs(runs, planned)
    parts.append(f"研究计划的 {len(planned)} 个运行中还有 {len(missing)} 个未完成，回答会随新记录更新"
                 if len(missing) else f"研究计划的 {len(planned)} 个运行已全部完成")
    return "；".join(parts) + "。"
