"""The discussion chapter's evidence (book/discussion.md): is the study's budget too short for the
models to fit their training set, and what each ablation's corrected call says.

The underfit evidence is read from the records' last epoch: with label smoothing ``eps`` over
``k`` classes no model can push the training cross-entropy below the entropy of the smoothed
target (:func:`label_smoothing_floor`); a training loss far above that floor, and a training top-1
(measured on augmented batches during the epoch) below the test top-1, say the models are still
learning when the budget ends.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .comparison_family import MAIN_EXPERIMENTS

UNDERFIT_COLUMNS = ["model", "seeds", "train_loss", "floor", "ratio", "train_top1", "test_top1", "gap"]


def label_smoothing_floor(eps: float, k: int) -> float:
    """The lowest cross-entropy a model can reach on targets smoothed by ``eps`` over ``k`` classes:
    the entropy of the smoothed target (1 - eps + eps/k on the true class, eps/k elsewhere)."""
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {eps}")
    if k < 2:
        raise ValueError(f"the number of classes must be at least 2, got {k}")
    true, other = 1.0 - eps + eps / k, eps / k
    return -(true * math.log(true)) - ((k - 1) * other * math.log(other) if other > 0 else 0.0)


def final_epochs(histories: pd.DataFrame) -> pd.DataFrame:
    """Each run's last recorded epoch (one row per dataset, experiment and run)."""
    keys = ["dataset", "experiment", "run"]
    last = histories.sort_values("epoch").groupby(keys, as_index=False).tail(1)
    return last.reset_index(drop=True)


def recipe_facts(runs: pd.DataFrame) -> tuple[float, int]:
    """``(label_smoothing, num_classes)`` shared by the records of ``runs``, read from their files;
    a ValueError names the records when they differ (the floor would not be one number)."""
    from ..results import DEFAULT_RESULTS_DIR, read_record

    seen = {}
    for path in runs["path"]:
        record = read_record(Path(DEFAULT_RESULTS_DIR) / path)  # runs' paths are relative to results/
        seen[(float(record["config"]["label_smoothing"]), int(record["data"]["num_classes"]))] = path
    if len(seen) != 1:
        raise ValueError(f"the records mix label smoothing / class counts {sorted(seen)} "
                         f"(e.g. {sorted(seen.values())[:2]}): compare one recipe's runs")
    return next(iter(seen))


def underfit_table(runs: pd.DataFrame, histories: pd.DataFrame,
                   experiments: tuple[str, ...] = MAIN_EXPERIMENTS) -> pd.DataFrame:
    """One row per default-variant model of ``experiments`` in ``runs`` (the study's records): the
    last epoch's training loss, top-1 on the training batches and test top-1, each a mean over
    seeds; ``floor`` is :func:`label_smoothing_floor` for the records' smoothing and classes,
    ``ratio`` the loss over the floor and ``gap`` the training minus the test top-1 (points)."""
    chosen = runs[runs["experiment"].isin(experiments) & (runs["variant"] == "default")]
    if chosen.empty:
        return pd.DataFrame(columns=UNDERFIT_COLUMNS)
    last = final_epochs(histories).merge(chosen[["dataset", "experiment", "run"]],
                                         on=["dataset", "experiment", "run"])
    floor = label_smoothing_floor(*recipe_facts(chosen))
    table = last.groupby("model", as_index=False).agg(
        seeds=("seed", "nunique"), train_loss=("train_loss", "mean"),
        train_top1=("train_top1", "mean"), test_top1=("test_top1", "mean"))
    table["floor"] = floor
    table["ratio"] = table["train_loss"] / floor
    table["gap"] = table["train_top1"] - table["test_top1"]
    return table[UNDERFIT_COLUMNS].sort_values("test_top1", ascending=False).reset_index(drop=True)


def underfit_facts(table: pd.DataFrame) -> dict[str, float | int]:
    """The numbers the discussion quotes: how many models, the loss range in multiples of the
    floor, how many train below their test top-1, and the rank correlation (Spearman) between the
    last training loss and the test top-1 across models."""
    if table.empty:
        raise ValueError("the underfit table is empty: the study has no main/main_iso records yet")
    return {"models": len(table), "floor": float(table["floor"].iloc[0]),
            "ratio_min": float(table["ratio"].min()), "ratio_max": float(table["ratio"].max()),
            "loss_min": float(table["train_loss"].min()), "loss_max": float(table["train_loss"].max()),
            "below_test": int((table["gap"] < 0).sum()),
            "rank_corr": float(table["train_loss"].rank().corr(table["test_top1"].rank()))}


def underfit_display(table: pd.DataFrame) -> pd.DataFrame:
    """The chapter's table: Chinese headers, rounded numbers (the floor, one number, is in the text)."""
    return pd.DataFrame({
        "模型": table["model"], "种子数": table["seeds"].astype(int),
        "训练损失": table["train_loss"].map("{:.3f}".format),
        "损失 / 下限": table["ratio"].map("{:.1f}".format),
        "训练 top-1": table["train_top1"].map("{:.2f}".format),
        "测试 top-1": table["test_top1"].map("{:.2f}".format),
        "训练 − 测试": table["gap"].map("{:+.2f}".format),
    })


def arm_row(family: pd.DataFrame, comparison: str, label: str) -> pd.Series:
    """The row of :func:`cifarlib.report.comparison_family.comparison_family` for one arm; a
    KeyError names the comparisons and labels there are when it is missing."""
    rows = family[(family["comparison"] == comparison) & (family["label"] == label)]
    if rows.empty:
        known = sorted(set(zip(family["comparison"], family["label"])))
        raise KeyError(f"no comparison {comparison!r} / {label!r} in the family; it has {known}")
    return rows.iloc[0]


def holm_call(row: pd.Series) -> str:
    """The corrected verdict of one row in Chinese: 校正后仍显著, 校正后不显著 or 没有区间."""
    if pd.isna(row["holm_p"]):
        return "没有区间"
    return "校正后仍显著" if row["holm_significant"] else "校正后不显著"


def call_text(row: pd.Series) -> str:
    """``+0.70 个百分点（Holm 校正后 p = 0.026，校正后仍显著）``: one arm's difference and its call."""
    if pd.isna(row["holm_p"]):
        return f"{row['diff']:+.2f} 个百分点（只有 1 对种子，没有区间）"
    p = "< 0.001" if row["holm_p"] < 0.001 else f"= {row['holm_p']:.3f}"
    return f"{row['diff']:+.2f} 个百分点（Holm 校正后 p {p}，{holm_call(row)}）"
