"""The time-to-accuracy evidence behind the default recipe (``recipe`` preset, issue 6).

Each run of the ``recipe`` experiment tracks a weight EMA and scores its test set four ways
(``eval_views`` in the record: the trained weights or the EMA, each with and without flip
test-time augmentation). A training change is a *variant* (its own runs); EMA and TTA are *views*
of the same runs. Every (variant, view) cell is compared with the reference cell (the base recipe
scored plainly) as a difference paired by seed, with the study's Student-t interval; the table's
"significant" is that one interval's call (:func:`cifarlib.report.stats.significant`). Which
change becomes a default is decided over the whole family, under Holm, in
:mod:`cifarlib.report.recipe_decision`. Scores come from the test set (``eval_views``) or, for
runs with a ``val_split`` hold-out, from the validation set (the record's ``val`` views).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .stats import mean_sd, paired_difference, significant

TARGET_TOP1 = 85.0
"""The recipe's anchor (setup page): ``resnet20`` reaches this test top-1 (%) in the ``recipe``
preset's budget on every seed."""

VIEW_LABELS = {"model": "训练权重", "model+flip": "训练权重 + 翻转 TTA",
               "ema": "EMA 权重", "ema+flip": "EMA 权重 + 翻转 TTA"}


SPLITS = ("test", "val")  # the test set (``eval_views``) or the validation hold-out (``val``'s views)


def recipe_scores(details: list[dict[str, Any]], experiment: str = "recipe", split: str = "test") -> pd.DataFrame:
    """One row per (variant, seed, view): the top-1 of that view on ``split`` (the test set, or
    the ``val_split`` hold-out of runs that have one), and the run's wall time."""
    if split not in SPLITS:
        raise ValueError(f"recipe_scores: split {split!r} is not one of {SPLITS}")

    def views(d: dict[str, Any]) -> dict[str, float]:
        return (d.get("eval_views") if split == "test" else (d.get("val") or {}).get("views")) or {}

    rows = [{"variant": d["variant"], "seed": d["seed"], "view": view, "top1": top1,
             "wall_time_s": d.get("wall_time_s")}
            for d in details if d["experiment"] == experiment
            for view, top1 in views(d).items()]
    return pd.DataFrame(rows, columns=["variant", "seed", "view", "top1", "wall_time_s"])


def recipe_table(scores: pd.DataFrame, reference: tuple[str, str] = ("base", "model"),
                 target: float = TARGET_TOP1) -> pd.DataFrame:
    """Per (variant, view): seeds, mean and sd of top-1, the per-seed values, whether every
    seed reaches ``target``, and the paired difference against ``reference`` with its 95 % CI."""
    ref = scores[(scores["variant"] == reference[0]) & (scores["view"] == reference[1])]
    ref_by_seed = dict(zip(ref["seed"], ref["top1"]))
    rows = []
    for (variant, view), group in scores.groupby(["variant", "view"], sort=False):
        by_seed = dict(zip(group["seed"], group["top1"]))
        mean, sd = mean_sd(list(by_seed.values()))
        row = {"variant": variant, "view": view, "seeds": len(by_seed), "mean": mean, "sd": sd,
               "per_seed": " / ".join(f"{by_seed[s]:.2f}" for s in sorted(by_seed)),
               "all_reach_target": all(v >= target for v in by_seed.values()),
               "minutes": group["wall_time_s"].mean() / 60 if group["wall_time_s"].notna().all() else float("nan")}
        if (variant, view) != reference and set(by_seed) & set(ref_by_seed):
            diff = paired_difference(by_seed, ref_by_seed)
            row.update(diff=diff.estimate, low=diff.low, high=diff.high, significant=significant(diff))
        else:
            row.update(diff=float("nan"), low=float("nan"), high=float("nan"), significant=False)
        rows.append(row)
    order = {v: i for i, v in enumerate(VIEW_LABELS)}
    table = pd.DataFrame(rows)
    if len(table):
        table = table.sort_values(["variant", "view"], key=lambda c: c.map(order) if c.name == "view" else c)
    return table.reset_index(drop=True)


def recipe_display(table: pd.DataFrame, target: float = TARGET_TOP1) -> pd.DataFrame:
    """The table with Chinese headers and rounded numbers, for the book."""
    def interval(r: pd.Series) -> str:
        if pd.isna(r["low"]):
            return "（参照）" if pd.isna(r["diff"]) else f"{r['diff']:+.2f}（仅 1 个种子）"
        mark = "，显著" if r["significant"] else "，跨过 0"
        return f"{r['diff']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}]{mark}"

    return pd.DataFrame({
        "训练配方": table["variant"], "评估方式": table["view"].map(VIEW_LABELS).fillna(table["view"]),
        "top-1 (%)": [
            f"{m:.2f} ± {s:.2f}" if pd.notna(s) else f"{m:.2f}" for m, s in zip(table["mean"], table["sd"])],
        "各种子": table["per_seed"], f"全部 ≥ {target:g}%": table["all_reach_target"].map({True: "是", False: "否"}),
        "相对参照的差（95% CI）": table.apply(interval, axis=1),
        "分钟 / 次": table["minutes"].map(lambda m: "—" if pd.isna(m) else f"{m:.1f}"),
    })


def recipe_sentence(table: pd.DataFrame, reference: tuple[str, str] = ("base", "model"),
                    target: float = TARGET_TOP1) -> str:
    """The evidence in Chinese: the reference, what helps significantly, what reaches ``target``."""
    if table.empty:
        return "（`recipe` 预设尚无运行记录。）"

    def name(r: pd.Series) -> str:
        return f"{r['variant']} 配方 + {VIEW_LABELS.get(r['view'], r['view'])}"

    t = table.set_index(["variant", "view"], drop=False)
    parts = []
    if reference in t.index:
        ref = t.loc[reference]
        parts.append(f"参照（{name(ref)}）在 {ref['seeds']} 个种子上为 {ref['mean']:.2f}%（各种子 {ref['per_seed']}）")
    others = table[[(v, w) != reference for v, w in zip(table["variant"], table["view"])]]
    better = others[others["significant"] & (others["diff"] > 0)]
    worse = others[others["significant"] & (others["diff"] < 0)]
    if len(better):
        parts.append("显著更高的有 " + "、".join(
            f"{name(r)}（{r['diff']:+.2f}，[{r['low']:+.2f}, {r['high']:+.2f}]）" for _, r in better.iterrows()))
    if len(worse):
        parts.append("显著更低的有 " + "、".join(f"{name(r)}（{r['diff']:+.2f}）" for _, r in worse.iterrows()))
    single = others[others["low"].isna()]
    crossing = len(others) - len(better) - len(worse) - len(single)
    if crossing:
        parts.append(f"其余 {crossing} 个组合的区间跨过 0")
    if len(single):
        parts.append(f"{len(single)} 个组合与参照只共有 1 个种子，没有区间")
    reached = table[table["all_reach_target"]]
    parts.append(("每个种子都达到 {:g}% 的组合：".format(target) + "、".join(name(r) for _, r in reached.iterrows()))
                 if len(reached) else f"没有任何组合在每个种子上都达到 {target:g}%")
    return "；".join(parts) + "。"
