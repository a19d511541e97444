"""The study's plan against its records: which planned runs exist, which are missing (a table and a
Chinese sentence), and which records belong to the study."""

from __future__ import annotations

import pandas as pd


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
