"""The front page's text in Chinese, from the study's records: the overview's answer (three short
sentences, one verdict per comparison) and the abstract (摘要).

Every verdict is the corrected call of :mod:`cifarlib.report.comparison_family` (Holm's adjustment
over the study's whole family of comparisons); nothing here recomputes a test.
"""

from __future__ import annotations

import re

import pandas as pd

from .budget_line import DATASET_SHORT_NAMES
from .comparison_family import MAIN_EXPERIMENTS, comparison_family, study_comparisons
from .study_plan import missing_runs, study_runs

SET_LABELS = {"main_iso": "等参数版（主比较）", "main": "按原设计嫁接的版本"}


def _reference_runs(runs: pd.DataFrame, reference: str) -> pd.DataFrame:
    return runs[(runs["experiment"] == "main") & (runs["model"] == reference) & (runs["variant"] == "default")]


def _budget(ref: pd.DataFrame) -> str:
    dataset = ref["dataset"].iloc[0]
    return (f"{DATASET_SHORT_NAMES.get(dataset, dataset)}、{int(ref['train_images'].iloc[0])} 张训练图像、"
            f"{int(ref['epochs'].iloc[0])} 轮、{ref['seed'].nunique()} 个种子")


def main_family(runs: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The study's comparison family (:func:`comparison_family` over :func:`study_comparisons`) and
    the family's comparison name of each main experiment (``main``, ``main_iso``)."""
    named = study_comparisons(runs)
    names = {experiment: named[i][0] for i, experiment in enumerate(MAIN_EXPERIMENTS)}
    return comparison_family(named), names


def corrected_calls(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A comparison's rows split by their one verdict, Holm-corrected: ``higher`` / ``lower`` than
    the reference, ``same`` (interval but no corrected difference), ``no_interval`` (one seed)."""
    has_p = rows["holm_p"].notna()
    return {"higher": rows[has_p & rows["holm_significant"] & (rows["diff"] > 0)],
            "lower": rows[has_p & rows["holm_significant"] & (rows["diff"] < 0)],
            "same": rows[has_p & ~rows["holm_significant"]],
            "no_interval": rows[~has_p]}


def _names(rows: pd.DataFrame, with_diff: bool = True) -> str:
    return "、".join(f"`{r['label']}`（{r['diff']:+.2f}）" if with_diff else f"`{r['label']}`"
                     for _, r in rows.iterrows())


def set_sentence(rows: pd.DataFrame, label: str, planned_models: int) -> str:
    """One sentence: the corrected verdict of every graft of one set against the backbone."""
    if rows.empty:
        return f"{label}还没有任何嫁接模型的记录。"
    calls = corrected_calls(rows)
    parts = [f"显著高于骨干的有 {_names(calls['higher'])}" if len(calls["higher"]) else "没有一个显著高于骨干"]
    if len(calls["lower"]):
        parts.append(f"显著低于骨干的有 {_names(calls['lower'])}")
    if len(calls["same"]):
        parts.append(f"其余 {len(calls['same'])} 个与骨干没有可检测的差异")
    if len(calls["no_interval"]):
        parts.append(f"{_names(calls['no_interval'], with_diff=False)} 只有 1 个种子，不下结论")
    waiting = planned_models - len(rows)
    if waiting > 0:
        parts.append(f"还有 {waiting} 个没有记录")
    return f"{label}中，{len(rows)} 个嫁接模型经 Holm 校正后" + "，".join(parts) + "。"


def overview_answer(runs: pd.DataFrame, planned: pd.DataFrame, reference: str = "resnet20") -> str:
    """The overview's answer, three short sentences: the backbone's top-1 under the study's budget
    (and how much of the plan is done), then one corrected verdict per graft of the iso-parameter
    set (the headline) and of the as-designed set."""
    from .stats import mean_sd

    runs = study_runs(runs, planned)
    if runs.empty:
        return "研究计划（`study` 预设）还没有任何运行记录，所以本书暂时给不出回答。"
    ref = _reference_runs(runs, reference)
    if ref.empty:
        return f"研究的参照模型 `{reference}` 还没有运行记录，所以本书暂时给不出回答。"
    mean, sd = mean_sd(list(ref["test_top1"]))
    missing = missing_runs(runs, planned)
    done = (f"研究计划的 {len(planned)} 个运行已全部完成" if missing.empty
            else f"研究计划的 {len(planned)} 个运行中还有 {len(missing)} 个未完成")
    sentences = [f"研究的预算为 {_budget(ref)}：骨干 `{reference}` 的测试集 top-1 为 "
                 f"**{mean:.2f} ± {sd:.2f}%**，{done}。"]
    family, names = main_family(runs)
    for experiment in ("main_iso", "main"):
        total = len(set(planned.loc[planned["experiment"] == experiment, "model"]) - {reference})
        sentences.append(set_sentence(family[family["comparison"] == names[experiment]],
                                      SET_LABELS[experiment], total))
    return "".join(sentences)


def ablation_survivors(family: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The ablation arms (not the main comparisons, repeats counted once) whose call survives Holm."""
    rows = family[~family["comparison"].isin(names.values()) & (family["same_as"] == "")]
    return rows[rows["holm_significant"]]


def han_count(text: str) -> int:
    """How many Han characters ``text`` has (the abstract's length rule: 150-250)."""
    return len(re.findall(r"[\u4e00-\u9fff]", text))


def abstract(runs: pd.DataFrame, planned: pd.DataFrame, histories: pd.DataFrame,
             reference: str = "resnet20") -> str:
    """The abstract (摘要), 150-250 Han characters, every number from the study's records: the
    question, the budget, the iso set's corrected calls, the underfit evidence, the ablations."""
    from .counts import book_counts
    from .discussion import underfit_facts, underfit_table
    from .stats import mean_sd

    runs = study_runs(runs, planned)
    ref = _reference_runs(runs, reference) if len(runs) else runs
    if ref.empty:
        return "研究计划（`study` 预设）的参照模型还没有运行记录，所以摘要暂时给不出结果。"
    counts = book_counts()
    family, names = main_family(runs)
    calls = corrected_calls(family[family["comparison"] == names["main_iso"]])
    with_ci = len(calls["higher"]) + len(calls["lower"]) + len(calls["same"])
    facts = underfit_facts(underfit_table(runs, histories))
    survivors = ablation_survivors(family, names)
    higher = f"{len(calls['higher'])} 个显著更高" if len(calls["higher"]) else "没有一个显著更高"
    below = ("全部模型" if facts["below_test"] == facts["models"]
             else f"{facts['models']} 个模型中有 {facts['below_test']} 个")
    return (
        f"本书把{counts['methods']}种近年的卷积与注意力设计嫁接到同一个 CIFAR 版 ResNet-20 骨干上，"
        f"以相同的配方和预算比较它们的准确率与代价。目前数字的预算为 {_budget(ref)}，全部在 CPU 上训练。"
        f"骨干的测试集 top-1 为 {mean_sd(list(ref['test_top1']))[0]:.2f}%；"
        f"参数量与骨干相当的 {with_ci} 个嫁接模型经 Holm 多重比较校正后，{higher}，"
        f"{len(calls['lower'])} 个显著更低，其余与骨干没有可检测的差异。"
        f"各模型末轮的训练损失是标签平滑下限的 {facts['ratio_min']:.1f} 至 {facts['ratio_max']:.1f} 倍，"
        f"{below}训练准确率低于测试准确率：在这一预算下模型远未拟合训练集，"
        f"比较的是谁学得快，而不是谁的结构最终更好。{counts['ablations']}组消融中，"
        f"校正后仍显著的设置有 {len(survivors)} 个。"
    )
