"""How small a difference the study can see, and why the block model is its primary test.

:func:`detectable_sentence` prints, for one budget, the difference the main comparison detects
with 80 % power under the block model and under the paired t (both from the same pooled residual
sd, :func:`cifarlib.report.stats.detectable_difference`). :func:`reference_spread_sentence`
explains once why the paired t is only a second view: the reference's seeds agree far more closely
than seeds usually do (:func:`cifarlib.report.stats.spread_this_small`), so a paired interval
leaves out most of the reference's own variance.
"""

from __future__ import annotations

import pandas as pd

from .ablations import BLOCK, Ablation, arm_runs, Arm
from .stats import BlockFit, block_model, detectable_difference, mean_sd, pooled_seed_sd, residual_shares, spread_this_small
from .tables import format_interval


def block_summary(table: pd.DataFrame) -> dict[str, float] | None:
    """The block fit of one :func:`cifarlib.report.ablations.ablation_table`: residual sd, df,
    seeds, and the 80 %-power detectable difference under the block model and the paired t
    (None when no arm has a block interval)."""
    block = table[table["test"] == BLOCK]
    if block.empty:
        return None
    sd, df, seeds = float(block["resid_sd"].iloc[0]), int(block["df"].iloc[0]), int(block["pairs"].iloc[0])
    return {"resid_sd": sd, "df": df, "seeds": seeds, "block": detectable_difference(sd, seeds, df),
            "paired": detectable_difference(sd, seeds, seeds - 1) if seeds > 2 else float("nan")}


def detectable_sentence(table: pd.DataFrame, epochs: int, name: str) -> str:
    """Chinese: at ``epochs`` epochs, the smallest difference comparison ``name`` finds with 80 % power."""
    s = block_summary(table)
    if s is None:
        return f"{epochs} 轮预算下{name}还没有足够的种子，无法估计可检测的差异。"
    paired = (f"；若只用按种子配对的 t（自由度 {s['seeds'] - 1}），同样的波动下约为 **{s['paired']:.1f}** 个百分点"
              if s["seeds"] > 2 else "")
    return (f"{epochs} 轮预算下，{name}（区组模型，{s['seeds']} 个种子，自由度 {s['df']}，合并残差标准差 "
            f"{s['resid_sd']:.2f} 个百分点）以 80% 的把握（双侧 5% 水平）能检测到的最小差异约为 **{s['block']:.1f}** "
            f"个百分点{paired}。比这更小的真实差异，被检测到的把握低于 80%。")


def _chance_text(p: float) -> str:
    return f"万分之 {p * 1e4:.1f}" if p < 0.01 else f" {p:.1%}"


def reference_spread_sentence(runs: pd.DataFrame, reference: Arm, experiments: tuple[str, ...]) -> str:
    """Chinese: the reference's seed sd against the seed sd pooled over ``experiments``' arms, and
    the chance of a spread that small ("" without at least two reference seeds)."""
    ref = arm_runs(runs, reference)
    if len(ref) < 2:
        return ""
    _, sd = mean_sd(list(ref["test_top1"]))
    scope = runs[runs["experiment"].isin(experiments)]
    groups = {key: list(g["test_top1"]) for key, g in scope.groupby(["experiment", "model", "variant"])}
    pooled, df = pooled_seed_sd(groups)
    chance = spread_this_small(sd, len(ref), pooled)
    return (f"参考 `{reference.model}` 的 {len(ref)} 个种子几乎完全一致：top-1 的标准差只有 {sd:.3f} 个百分点，而这些实验中各模型"
            f"合并的种子间标准差为 {pooled:.2f} 个百分点（自由度 {df}）。若参考的真实波动也是这么大，{len(ref)} 个种子碰巧一致到"
            f"这种程度的概率约为{_chance_text(chance)}。按种子配对的 t 只看差值的离散度，于是几乎漏掉了参考自身的波动，区间偏窄；"
            "区组模型把同一实验所有模型的残差合并起来估计波动，不依赖这一巧合，所以本书以它为主要检验。")


def pooling_sentence(runs: pd.DataFrame, ablation: Ablation) -> str:
    """Chinese: whether one arm dominates the block model's pooled residual of ``ablation``, and the
    pooled sd with and without it ("" when no arm holds more than twice its equal share)."""
    arms = {arm.label: dict(zip(g["seed"].astype(int), g["test_top1"]))
            for arm in (ablation.reference, *ablation.arms) if not (g := arm_runs(runs, arm)).empty}
    shares = residual_shares(arms, ablation.reference.label)
    if len(shares) < 3:
        return ""
    top, share = max(shares.items(), key=lambda kv: kv[1])
    if share <= 2 / len(shares):
        return ""
    full = block_model(arms, ablation.reference.label)
    rest = block_model({k: v for k, v in arms.items() if k != top}, ablation.reference.label)
    if full is None or rest is None:
        return ""
    text = (f"合并残差假设各模型的种子波动相同。{len(shares)} 个模型中，`{top}` 一个就占了残差平方和的 {share:.0%}"
            f"（平均每个模型约 {1 / len(shares):.0%}）：它的种子波动明显大于其他模型。合并残差标准差因此为 "
            f"{full.residual_sd:.2f} 个百分点，去掉它则为 {rest.residual_sd:.2f}；对其他模型来说，区组模型的区间因此偏宽、偏保守。")
    return text + _calls_without(full, rest, top)


def _calls_without(full: BlockFit, rest: BlockFit, left_out: str) -> str:
    """Chinese: which arms' single-interval calls change when ``left_out`` is not pooled, and that
    the primary analysis keeps every arm (the analysis fixed before the data, and conservative)."""
    changed = [(name, rest.intervals[name]) for name, fit in full.intervals.items()
               if name in rest.intervals and fit.significant != rest.intervals[name].significant]
    text = f"主要检验仍把所有模型合并（事先定下的分析）。不合并 `{left_out}` 时，"
    if not changed:
        return text + "其他模型的单个区间是否跨过 0 都不变。"
    gained = [f"`{name}`（{format_interval(i.low, i.high)}）" for name, i in changed if i.significant]
    lost = [f"`{name}`（{format_interval(i.low, i.high)}）" for name, i in changed if not i.significant]
    parts = ([f"{'、'.join(gained)}的区间不再跨过 0"] if gained else []) + \
            ([f"{'、'.join(lost)}的区间变为跨过 0"] if lost else [])
    return text + "；".join(parts) + "，其余模型不变；这些变化只作敏感性分析，不改变本书的结论。"
