"""The headline comparison at two budgets side by side: 4 epochs (``main`` / ``main_iso``) and
10 epochs (``main_e10`` / ``main_iso_e10``, preset ``study_e10``).

Each iso graft against resnet20 of its own budget (block model, :func:`ablation_table`); the
Spearman rank correlation of the arms' mean top-1 between the budgets, with a percentile
bootstrap over seeds; and which calls hold at both budgets. Each budget's arms are its headline
records (:func:`cifarlib.report.headline.headline_arms`): the ConvNeXt graft at layer-scale init 1
at both budgets (``ablation_layer_scale``'s ``ls1`` at 4 epochs, ``main_iso_e10``'s ``ls1`` at 10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .ablations import STUDY_ABLATIONS, Ablation, Arm, ablation_table
from .headline import headline_arms, headline_runs
from .tables import format_interval

BUDGETS = {4: ("main", "main_iso"), 10: ("main_e10", "main_iso_e10")}  # epochs -> (reference, arms) experiment
REFERENCE = "resnet20"
SHORT, LONG = min(BUDGETS), max(BUDGETS)


def budget_ablation(runs: pd.DataFrame, epochs: int) -> Ablation:
    """The iso grafts of ``epochs``' budget (their headline records) against its resnet20."""
    ref_exp, arm_exp = BUDGETS[epochs]
    return Ablation(arm_exp, arm_exp, Arm(ref_exp, REFERENCE, "default", REFERENCE), headline_arms(runs, arm_exp))


def _call(row: pd.Series) -> str:
    if pd.isna(row["ci_low"]):
        return "无区间"
    if not row["significant"]:
        return "跨过 0"
    return "更高" if row["diff"] > 0 else "更低"


def side_by_side(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per iso graft (by model): difference, interval and call at 4 and at 10 epochs, the
    variant of each budget's headline record, and ``holds`` (the same call with an interval at both budgets)."""
    tables = {e: ablation_table(runs, [], budget_ablation(runs, e)) for e in BUDGETS}
    arms = {e: t[t["role"] == "arm"].drop_duplicates("model").set_index("model") for e, t in tables.items()}
    rows = []
    for model in arms[4].index:
        r4 = arms[4].loc[model]
        r10 = arms[10].loc[model] if model in arms[10].index else None
        row = {"model": model, "variant_4": r4["variant"], "diff_4": r4["diff"], "low_4": r4["ci_low"], "high_4": r4["ci_high"], "call_4": _call(r4),
               "variant_10": "" if r10 is None else r10["variant"], "diff_10": math.nan, "low_10": math.nan,
               "high_10": math.nan, "call_10": "无记录"}
        if r10 is not None:
            row.update(diff_10=r10["diff"], low_10=r10["ci_low"], high_10=r10["ci_high"], call_10=_call(r10))
        row["holds"] = row["call_4"] == row["call_10"] and row["call_4"] != "无区间"
        rows.append(row)
    return pd.DataFrame(rows)


def _arm_name(model: str, variant_4: str, variant_10: str) -> str:
    """A model with its headline variant where it is not the default (once when both budgets agree)."""
    shown = {v for v in (variant_4, variant_10) if v and v != "default"}
    if not shown:
        return model
    if variant_4 == variant_10 or not variant_10:
        return f"{model}（{variant_4}）"
    return f"{model}（4 轮 {variant_4 or '—'}，10 轮 {variant_10}）"


def side_by_side_display(table: pd.DataFrame) -> pd.DataFrame:
    """The book's table: Chinese headers, ``+d [lo, hi]`` per budget, whether the call holds."""
    def cell(d: float, lo: float, hi: float) -> str:
        return "—" if pd.isna(d) else f"{d:+.2f} {format_interval(lo, hi)}"

    return pd.DataFrame({
        "等参数嫁接": [_arm_name(*v) for v in zip(table["model"], table["variant_4"], table["variant_10"])],
        "4 轮：差 [95% 区间]": [cell(*v) for v in zip(table["diff_4"], table["low_4"], table["high_4"])],
        "4 轮结论": table["call_4"],
        "10 轮：差 [95% 区间]": [cell(*v) for v in zip(table["diff_10"], table["low_10"], table["high_10"])],
        "10 轮结论": table["call_10"],
        "两个预算一致": table["holds"].map({True: "是", False: "否"}),
    })


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = pd.Series(a).rank().to_numpy(), pd.Series(b).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rho of the arms' mean top-1 between budgets, its bootstrap interval, the arms."""

    rho: float
    low: float
    high: float
    arms: tuple[str, ...]


def rank_correlation(runs: pd.DataFrame, resamples: int = 2000, seed: int = 0,
                     confidence: float = 0.95) -> RankCorrelation | None:
    """Spearman's rho between the 4- and 10-epoch mean top-1 of the arms recorded at both (the
    reference included), with a percentile bootstrap over seeds: each resample draws each budget's
    seeds with replacement (the same draw for every arm of that budget, keeping the seed block)
    and recomputes every mean. None with fewer than three arms at both budgets."""
    tables = {}
    for epochs, (ref_exp, arm_exp) in BUDGETS.items():
        reference = runs[(runs["experiment"] == ref_exp) & (runs["model"] == REFERENCE) & (runs["variant"] == "default")]
        rows = pd.concat([reference, headline_runs(runs, arm_exp)])
        tables[epochs] = rows.drop_duplicates(["model", "seed"]).pivot(index="model", columns="seed", values="test_top1")
    both = [m for m in tables[4].index if m in tables[10].index]
    if len(both) < 3:
        return None
    t4, t10 = tables[4].loc[both], tables[10].loc[both]
    rho = _spearman(t4.mean(axis=1).to_numpy(), t10.mean(axis=1).to_numpy())
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(resamples):
        means = []
        for t in (t4, t10):
            cols = rng.integers(0, t.shape[1], size=t.shape[1])
            means.append(np.nanmean(t.to_numpy()[:, cols], axis=1))
        if not any(np.isnan(m).any() for m in means):
            boot.append(_spearman(*means))
    boot = np.array([b for b in boot if not math.isnan(b)])
    alpha = (1 - confidence) / 2
    low, high = (np.quantile(boot, [alpha, 1 - alpha]) if boot.size else (math.nan, math.nan))
    return RankCorrelation(rho, float(low), float(high), tuple(both))


def budgets_sentence(table: pd.DataFrame, correlation: RankCorrelation | None) -> str:
    """Chinese: the rank correlation and which calls hold at both budgets, which change."""
    if table.empty or (table["call_10"] == "无记录").all():
        return f"{LONG} 轮预算还没有可比较的记录。"
    text = ""
    if correlation is not None:
        text += (f"{len(correlation.arms)} 个在两个预算下都有记录的模型（含参考 `resnet20`），按平均 top-1 排名的 Spearman 相关系数为 "
                 f"{correlation.rho:.2f}（按种子 bootstrap 的 95% 区间 {format_interval(correlation.low, correlation.high)}）。")
    compared = table[(table["call_4"] != "无区间") & (table["call_10"] != "无区间") & (table["call_10"] != "无记录")]
    held, changed = compared[compared["holds"]], compared[~compared["holds"]]
    if len(held):
        text += "两个预算下结论相同的有：" + "、".join(f"`{m}`（{c}）" for m, c in zip(held["model"], held["call_4"])) + "。"
    if len(changed):
        text += ("结论随预算改变的有：" + "、".join(f"`{m}`（4 轮{a}，10 轮{b}）" for m, a, b
                                          in zip(changed["model"], changed["call_4"], changed["call_10"])) + "。")
    convnext = table[(table["variant_4"] == "ls1") & (table["variant_10"] == "ls1")]
    if len(convnext):
        text += f"`{convnext['model'].iloc[0]}` 在两个预算下都使用层缩放初值 γ₀=1（变体 `ls1`）。"
    return text


def layer_scale_ablations() -> dict[int, Ablation]:
    """The ConvNeXt layer-scale ablation at each budget: the paper's gamma0 = 1e-6 against the
    headline's gamma0 = 1 (4 epochs: :data:`STUDY_ABLATIONS`' ``layer_scale``; 10 epochs:
    ``ablation_layer_scale_e10`` against ``main_iso_e10``'s ``ls1``)."""
    four = next(a for a in STUDY_ABLATIONS if a.key == "layer_scale")
    model, paper = four.reference.model, four.arms[0]
    ten = Ablation("layer_scale_e10", four.title, Arm(BUDGETS[10][1], model, "ls1", four.reference.label),
                   (Arm("ablation_layer_scale_e10", model, "default", paper.label),))
    return {4: four, 10: ten}


def layer_scale_by_budget(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per budget with records of both inits: the paper init minus gamma0 = 1, its
    primary interval (block model of the two arms: the paired t) and the call."""
    rows = []
    for epochs, ablation in layer_scale_ablations().items():
        table = ablation_table(runs, [], ablation)
        arm = table[table["role"] == "arm"]
        if arm.empty or pd.isna(arm["diff"].iloc[0]):
            continue
        r = arm.iloc[0]
        rows.append({"epochs": epochs, "pairs": int(r["pairs"]), "diff": r["diff"], "low": r["ci_low"],
                     "high": r["ci_high"], "call": _call(r)})
    return pd.DataFrame(rows, columns=["epochs", "pairs", "diff", "low", "high", "call"])


def layer_scale_sentence(table: pd.DataFrame) -> str:
    """Chinese: the paper init against gamma0 = 1 at each budget with records."""
    if table.empty:
        return ""
    parts = [f"{int(r['epochs'])} 轮时为 {r['diff']:+.2f} 个百分点"
             + (f"（95% 区间 {format_interval(r['low'], r['high'])}，{r['pairs']} 对种子，{r['call']}）"
                if not pd.isna(r["low"]) else f"（{r['pairs']} 对种子，无区间）")
             for _, r in table.iterrows()]
    text = "ConvNeXt 嫁接的层缩放初值：论文的 γ₀=10⁻⁶ 减去 γ₀=1，" + "；".join(parts) + "。"
    if len(table) == 1 and int(table["epochs"].iloc[0]) == SHORT:
        text += f"{LONG} 轮预算下论文初值的对照（`ablation_layer_scale_e10`）还在 `study_e10` 的队列中，尚无记录。"
    return text
