"""The ablations of the study (:data:`STUDY_ABLATIONS`) against their references, paired by seed:
the table, its printed form and one Chinese sentence per arm."""

from __future__ import annotations

import re

from dataclasses import dataclass

import pandas as pd

from .tables import format_interval


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
    text: str = ""  # the ablation chapter's paragraph under the title (MyST); its section is generated


STUDY_ABLATIONS: tuple[Ablation, ...] = (
    Ablation("eca_onoff", "ECA 开 / 关",
             Arm("main", "resnet20", "default", "关（resnet20）"),
             (Arm("main", "eca_resnet20", "default", "开（eca_resnet20）"),),
             text=r"把 ECA 模块 {cite}`wang2020eca` 整个去掉，就回到骨干 `resnet20`。这里比较主实验 `main` 中的 `eca_resnet20`（开）与 "
             r"`resnet20`（关，参考）；两者除每个残差块里的 ECA 之外完全相同，ECA 在每个块只增加 $k$ 个参数。"),
    Ablation("eca_k", "ECA 卷积核大小",
             Arm("main", "eca_resnet20", "default", "自适应 k（本骨干上 k=3）"),
             (Arm("ablation_eca_k", "eca_resnet20", "k5", "k=5"),
              Arm("ablation_eca_k", "eca_resnet20", "k7", "k=7")),
             text=r"ECA 用一维卷积在相邻通道之间交互，核大小 $k$ 默认按通道数自适应选取（本骨干的宽度 16–64 上都得到 $k=3$）。消融实验 `ablation_eca_k` 把 "
             r"$k$ 固定为 5 和 7，参考是 `main` 中的 `eca_resnet20`（自适应 $k$）。"),
    Ablation("position", "注意力的位置",
             Arm("main", "eca_resnet20", "default", "残差相加之前（pre_add，论文做法）"),
             (Arm("ablation_position", "eca_resnet20", "post_add", "残差相加之后（post_add）"),),
             text=r"论文把 ECA 放在残差分支的末尾、与捷径相加之前（`pre_add`）；`ablation_position` "
             r"把它移到相加之后（`post_add`），此时注意力也会缩放捷径传来的信号。参考是 `main` 中默认的 `eca_resnet20`（`pre_add`）。"),
    Ablation("ghost_ratio", "Ghost 比例",
             Arm("main", "ghost_resnet20", "default", "s=2（默认）"),
             (Arm("ablation_ghost_ratio", "ghost_resnet20", "r3", "s=3"),
              Arm("ablation_ghost_ratio", "ghost_resnet20", "r4", "s=4")),
             text=r"Ghost 模块 {cite}`han2020ghostnet` 先用普通卷积生成 $1/s$ 的“本征”特征图，其余由廉价的逐通道卷积生成；$s$ "
             r"越大参数和计算越少。`ablation_ghost_ratio` 比较 $s=3$、$s=4$ 与 `main` 中的默认 $s=2$。"),
    Ablation("label_smoothing", "标签平滑",
             Arm("main", "resnet20", "default", "ε=0.1（默认）"),
             (Arm("ablation_ls", "resnet20", "ls0", "ε=0（不平滑）"),),
             text=r"所有模型默认使用标签平滑 $\varepsilon=0.1$ {cite}`szegedy2016inception`。`ablation_ls` 以 "
             r"$\varepsilon=0$ 训练骨干 `resnet20`，参考是 `main` 中的 `resnet20`（$\varepsilon=0.1$）。测试集上报告的 "
             r"top-1 与平滑无关。"),
    Ablation("layer_scale", "ConvNeXt 嫁接的层缩放初值",
             Arm("ablation_layer_scale", "convnext_resnet20_iso", "ls1", "γ₀=1（主比较所用）"),
             (Arm("main_iso", "convnext_resnet20_iso", "default", "γ₀=10⁻⁶（论文）"),),
             text=r"ConvNeXt 块的残差分支乘以逐通道的层缩放 $\gamma$，论文（用 AdamW 训练）把它初始化为 $10^{-6}$ "
             r"{cite}`liu2022convnext`。用 SGD 训练时，这个初值也把分支的有效学习率缩小了同样的倍数。`ablation_layer_scale` 以 "
             r"$\gamma_0=1$ 训练等参数版 `convnext_resnet20_iso`，`main_iso` 中同一模型用论文的 $\gamma_0=10^{-6}$（同一配方与种子，按种子配对）。"
             r"本研究的证据支持 $\gamma_0=1$，所以主比较中的 ConvNeXt 嫁接取 $\gamma_0=1$ 的记录，这里以它为参考，论文的初值是消融臂。"),
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
                    "ci_low", "ci_high", "p_value", "pairs", "test", "df", "resid_sd", "t_low", "t_high", "t_p",
                    "boot_low", "boot_high", "significant", "verdict"]
BLOCK, PAIRED = "区组模型", "配对 t"  # the ``test`` column: which analysis gave ci_low / ci_high / p_value


def ablation_table(runs: pd.DataFrame, details: list[dict], ablation: Ablation,
                   resamples: int = 2000) -> pd.DataFrame:
    """The reference and each arm of ``ablation`` that has records: top-1 mean / sd / seeds, and
    for the arms the difference to the reference with its 95 % interval (``ci_low``, ``ci_high``)
    and two-sided ``p_value`` from the primary analysis, the randomized-complete-block model over
    the reference and every arm with all of the reference's seeds
    (:func:`cifarlib.report.stats.block_model`; ``test`` is :data:`BLOCK`, ``df`` its degrees of
    freedom, ``resid_sd`` its pooled residual sd). An arm missing one of the reference's seeds
    falls back to the paired t over the shared seeds (``test`` :data:`PAIRED`). Secondary views:
    the paired-by-seed t interval (``t_low``, ``t_high``, ``t_p``) and a bootstrap over test images
    (per-image correctness averaged over the shared seeds; ``boot_low``, ``boot_high``).
    ``significant`` and ``verdict`` follow the primary interval (:func:`cifarlib.report.stats.verdict`).
    """
    import math

    from .stats import block_model, bootstrap_difference, mean_sd, paired_difference, significant, verdict

    rows = []
    ref = arm_runs(runs, ablation.reference)
    ref_by_seed = dict(zip(ref["seed"].astype(int), ref["test_top1"])) if len(ref) else {}
    seeds_of = {i: dict(zip(g["seed"].astype(int), g["test_top1"]))
                for i, a in enumerate(ablation.arms) if not (g := arm_runs(runs, a)).empty}
    fit = block_model({-1: ref_by_seed, **seeds_of}, -1) if ref_by_seed else None
    for index, (role, arm) in enumerate([("reference", ablation.reference)] + [("arm", a) for a in ablation.arms], -1):
        group = arm_runs(runs, arm)
        if group.empty:
            continue
        mean, sd = mean_sd(list(group["test_top1"]))
        row = {"label": arm.label, "role": role, "experiment": arm.experiment, "model": arm.model,
               "variant": arm.variant, "seeds": int(group["seed"].nunique()), "top1": mean, "top1_sd": sd,
               "diff": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan, "pairs": 0,
               "test": "", "df": 0, "resid_sd": math.nan, "t_low": math.nan, "t_high": math.nan, "t_p": math.nan,
               "boot_low": math.nan, "boot_high": math.nan, "significant": False, "verdict": "参考"}
        by_seed = dict(zip(group["seed"].astype(int), group["test_top1"]))
        shared = sorted(set(by_seed) & set(ref_by_seed))
        if role == "arm":
            row["verdict"] = "参考组没有记录，无法比较"
            if shared:
                paired = paired_difference(by_seed, ref_by_seed)
                row.update(t_low=paired.low, t_high=paired.high, t_p=paired.p_value, test=PAIRED,
                           df=max(paired.n - 1, 0))
                interval = paired
                if fit is not None and index in fit.intervals:
                    interval = fit.intervals[index]
                    row.update(test=BLOCK, df=fit.df, resid_sd=fit.residual_sd)
                row.update(diff=interval.estimate, ci_low=interval.low, ci_high=interval.high,
                           p_value=interval.p_value, pairs=paired.n, significant=significant(interval),
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
    "label": "设置", "seeds": "种子数", "top1": "top-1 均值（%）", "top1_sd": "种子间标准差",
    "diff": "差（百分点）", "ci": "95% 区间", "test": "方法", "paired_ci": "95% 配对 t 区间",
    "boot_ci": "95% bootstrap 区间",
    "verdict": "结论",
}


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
    rounded numbers; the primary interval and its method first, the paired t and the bootstrap
    beside it as secondary views."""
    out = pd.DataFrame({
        "设置": table["label"] + table["role"].map({"reference": "（参考）", "arm": ""}),
        "种子数": table["seeds"].astype(int),
        "top-1 (%)": [f"{m:.2f} ± {s:.2f}" if pd.notna(s) else f"{m:.2f}" for m, s in zip(table["top1"], table["top1_sd"])],
        ABLATION_HEADERS["diff"]: ["—" if pd.isna(d) else f"{d:+.2f}" for d in table["diff"]],
        ABLATION_HEADERS["ci"]: [format_interval(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"])],
        ABLATION_HEADERS["test"]: [t if t != BLOCK else f"{t}（自由度 {d}）" for t, d in zip(table["test"], table["df"])],
        ABLATION_HEADERS["paired_ci"]: [format_interval(lo, hi) for lo, hi in zip(table["t_low"], table["t_high"])],
        ABLATION_HEADERS["boot_ci"]: [format_interval(lo, hi) for lo, hi in zip(table["boot_low"], table["boot_high"])],
        ABLATION_HEADERS["verdict"]: [short_verdict(r) for _, r in table.iterrows()],
    })
    return out


def _how(row: pd.Series) -> str:
    """Where an interval came from, for a sentence: the method, its degrees of freedom, the seeds."""
    return f"{row['test']}，自由度 {int(row['df'])}，{int(row['pairs'])} 个种子"


def _subject(label: str) -> str:
    """An arm's label as the subject of a Chinese sentence: a space before the next Chinese word
    after Latin text ("k=5 与参考"), none after Chinese or a full-width bracket ("（不平滑）与参考")."""
    return label if re.search(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]$", label) else label + " "


def ablation_sentence(table: pd.DataFrame, reference_label: str) -> str:
    """One Chinese sentence per arm, worded by the primary interval (never "better" across zero)."""
    arms = table[table["role"] == "arm"]
    if table.empty or (table["role"] == "reference").sum() == 0:
        return f"参考组（{reference_label}）还没有记录，这一消融暂时无法比较。"
    if arms.empty:
        return "这一消融的对照组还没有任何记录。"
    parts = []
    for _, row in arms.iterrows():
        subject = _subject(row["label"])
        if pd.isna(row["diff"]):
            parts.append(f"{row['label']}：{row['verdict']}")
        elif pd.isna(row["ci_low"]):
            parts.append(f"{subject}与参考相差 {row['diff']:+.2f} 个百分点，但只有 1 对种子，给不出区间，不下结论")
        elif row["significant"]:
            word = "高" if row["diff"] > 0 else "低"
            parts.append(f"{subject}比参考{word} {abs(row['diff']):.2f} 个百分点，95% 区间 "
                         f"{format_interval(row['ci_low'], row['ci_high'])} 不含 0（{_how(row)}）")
        else:
            parts.append(f"{subject}与参考之差为 {row['diff']:+.2f} 个百分点，95% 区间 "
                         f"{format_interval(row['ci_low'], row['ci_high'])} 跨过 0（{_how(row)}），"
                         "在这一预算下没有可检测的差异")
    return "；".join(parts) + "。"


def main_ablation(runs: pd.DataFrame, reference: str = "resnet20", experiment: str = "main",
                  reference_experiment: str | None = None) -> Ablation:
    """Every model of ``experiment`` against ``reference`` (a model of ``reference_experiment``,
    default the same experiment) as an :class:`Ablation`, for :func:`ablation_table`; each model's
    records are those :func:`cifarlib.report.headline.headline_arms` picks (ConvNeXt at its evidenced init)."""
    from .headline import headline_arms

    ref_exp = reference_experiment or experiment
    arms = tuple(a for a in headline_arms(runs, experiment) if a.model != reference)
    return Ablation(experiment, experiment, Arm(ref_exp, reference, "default", reference), arms)
