"""The overview's answer in Chinese, from the study's records (the intro page)."""

from __future__ import annotations

import pandas as pd

from .budget_line import DATASET_SHORT_NAMES
from .study_plan import missing_runs, study_runs
from .tables import comparison_table


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
