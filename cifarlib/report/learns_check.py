"""The learns-check of the full-size models: does each network learn at all on a tiny budget?

Not a comparison. A run passes when its test top-1 is at least twice chance and its last epoch's
training loss is below its first. The ``fullcheck`` preset trains every full-size model a few
epochs on a subset; ``fullcheck_long`` repeats, with the same recipe and more epochs, the models
that missed the criterion, so the book can say whether the miss was the budget or the model.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

CLASSES = {"cifar10-jpeg": 10, "cifar10": 10, "cifar100": 100}


def chance_top1(dataset: str) -> float:
    """Top-1 (%) of uniform guessing on ``dataset`` (10 classes unless it is CIFAR-100)."""
    return 100 / CLASSES.get(dataset, 10)


def learns_table(runs: pd.DataFrame, histories: pd.DataFrame, experiment: str = "fullcheck",
                 order: Sequence[str] = ()) -> pd.DataFrame:
    """The runs of ``experiment`` with ``first_loss``, ``last_loss`` (training loss of the first and
    last epoch), ``chance`` and ``learns`` (top-1 >= 2 x chance and the loss fell), in ``order``
    (the plan's model order; unlisted models after it, by name), never by top-1: this is not a
    ranking."""
    checks = runs[runs["experiment"] == experiment] if len(runs) else runs
    if checks.empty:
        return checks.assign(first_loss=[], last_loss=[], chance=[], learns=[])
    h = histories[histories["experiment"] == experiment].sort_values("epoch")
    first, last = h.groupby("run")["train_loss"].first(), h.groupby("run")["train_loss"].last()
    checks = checks.assign(first_loss=checks["run"].map(first), last_loss=checks["run"].map(last),
                           chance=checks["dataset"].map(chance_top1))
    learns = (checks["test_top1"] >= 2 * checks["chance"]) & (checks["last_loss"] < checks["first_loss"])
    position = {m: i for i, m in enumerate(order)}
    key = checks["model"].map(lambda m: position.get(m, len(position)))
    return (checks.assign(learns=learns, _pos=key).sort_values(["_pos", "model"], kind="stable")
            .drop(columns="_pos"))


def _outcome(row: pd.Series) -> str:
    return (f"训练损失从 {row['first_loss']:.3f} 到 {row['last_loss']:.3f}，测试 top-1 {row['test_top1']:.2f}%，"
            f"判据要求至少 {2 * row['chance']:.0f}%")


def learns_sentence(checks: pd.DataFrame, follow_up: pd.DataFrame) -> str:
    """Chinese: how many passed; for each miss, its numbers and what the longer follow-up found
    (or that none was run). ``checks`` and ``follow_up`` come from :func:`learns_table`."""
    if checks.empty:
        return "（无记录）"
    passed = int(checks["learns"].sum())
    text = f"已完成的 {len(checks)} 个完整尺寸模型中有 {passed} 个通过了判据"
    misses = checks[~checks["learns"]]
    if misses.empty:
        text += "，全部在学习。"
    for _, miss in misses.iterrows():
        text += f"；`{miss['model']}` 没有通过（{_outcome(miss)}），表中照实标为“否”。"
        longer = follow_up[follow_up["model"] == miss["model"]] if len(follow_up) else follow_up
        if longer.empty:
            text += "它在这个预算下没有达到判据；这能否靠更长的预算补上，本书还没有检验。"
            continue
        run = longer.iloc[0]
        verdict = (f"通过了判据：它在学习，只是 {int(miss['epochs'])} 轮的预算对它太少" if run["learns"]
                   else "仍未通过判据")
        text += (f"作为事后追加的检查（`fullcheck_long`），同一配方训练 {int(run['epochs'])} 轮后"
                 f"（{_outcome(run)}），{verdict}。")
    text += (f"在 {int(checks['epochs'].iloc[0])} 轮的检查预算下，测试 top-1 从 {checks['test_top1'].min():.2f}% "
             f"到 {checks['test_top1'].max():.2f}%")
    longer = follow_up[follow_up["model"].isin(misses["model"])] if len(follow_up) else follow_up
    if len(longer):
        text += "（" + "、".join(f"`{r['model']}` 在 `fullcheck_long` 中训练 {int(r['epochs'])} 轮后为 {r['test_top1']:.2f}%"
                                for _, r in longer.iterrows()) + "，不计入这一范围）"
    return text + "。"
