"""The study's comparisons as one family, corrected for being run all at once.

Every graft and ablation arm is tested against its reference with a 95 % paired-t interval
(:func:`cifarlib.report.ablations.ablation_table`). Taken one at a time each call has a 5 % false-positive
rate; over the :math:`m` comparisons of the study about :math:`0.05\\,m` intervals would exclude zero
even if nothing differed. :func:`comparison_family` gathers the distinct comparisons (the ECA
on/off ablation is main's ``eca_resnet20`` vs ``resnet20`` again, and ``eca_resnet20_iso`` is
``eca_resnet20`` at width 1.0: each is counted once), and adds
Holm's adjusted p-value (:func:`cifarlib.report.stats.holm_adjust`), so the book can say which calls
survive a family-wise error rate of 5 % and which are only hints.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

import pandas as pd

from ..models.iso import same_model
from ..models.registry import list_models
from . import ablations
from .ablations import BLOCK, Ablation, ablation_table, main_ablation, short_verdict
from .stats import holm_adjust
from .tables import format_interval

FAMILY_COLUMNS = ["comparison", "label", "pairs", "diff", "ci_low", "ci_high", "p_value", "test", "df",
                  "t_low", "t_high", "t_p", "significant", "verdict", "same_as", "holm_p", "holm_significant"]
# the main comparison's two sets, both against main's resnet20; the iso-parameter set is the headline,
# so it comes first and a comparison the two sets share is analysed as part of it
MAIN_EXPERIMENTS = ("main_iso", "main")


def study_comparisons(runs: pd.DataFrame, details: Sequence[dict] = ()) -> list[tuple[str, Ablation, pd.DataFrame]]:
    """Every comparison of the study as ``(name, ablation, ablation_table)``: the iso grafts and
    main's grafts against main's ``resnet20`` (:data:`MAIN_EXPERIMENTS`' order), then :data:`cifarlib.report.ablations.STUDY_ABLATIONS` in order.
    Without ``details`` (per-image correctness) the tables skip the bootstrap view."""
    named = [(f"{experiment}（对 resnet20）", main_ablation(runs, experiment=experiment, reference_experiment="main"))
             for experiment in MAIN_EXPERIMENTS]
    named += [(a.title, a) for a in ablations.STUDY_ABLATIONS]  # the table as it stands now
    return [(name, ablation, ablation_table(runs, list(details), ablation)) for name, ablation in named]


def comparison_family(named_tables: Sequence[tuple[str, Ablation, pd.DataFrame]],
                      alpha: float = 0.05) -> pd.DataFrame:
    """One row per arm of each ``(name, ablation, ablation_table)``, in order.

    ``same_as`` names the earlier comparison a row repeats: the same model and variant against the
    same reference model and variant, on the same runs (equal seed pairs and mean difference), else "".
    One comparison gets one verdict: a repeat shows its first occurrence's primary analysis
    (interval, p, test, df, call) and Holm values and is left out of the family's size; its
    paired-t columns stay its own. ``holm_p`` adjusts the primary ``p_value`` (the block model's
    where the arm has all the reference's seeds, else the paired t's; ``test`` says which); it is
    NaN for arms without an interval (fewer than 2 paired seeds), which are not in the family.
    ``t_p`` keeps the paired t's p as a second view.
    """
    rows: list[dict] = []
    distinct: dict[tuple, list[int]] = {}  # comparison key -> row indices of its distinct occurrences
    for name, ablation, table in named_tables:
        ref = ablation.reference
        for _, r in table[table["role"] == "arm"].iterrows():
            row = {"comparison": name, "label": r["label"], "pairs": int(r["pairs"]), "diff": r["diff"],
                   **{column: r[column] for column in _PRIMARY}, "t_low": r["t_low"], "t_high": r["t_high"],
                   "t_p": r["t_p"], "same_as": "", "_first": len(rows)}
            row["df"], row["significant"] = int(r["df"]), bool(r["significant"])
            key = (same_model(r["model"]), r["variant"], same_model(ref.model), ref.variant)
            earlier = next((rows[i] for i in distinct.get(key, []) if _same_runs(rows[i], row)), None)
            if earlier is None:
                distinct.setdefault(key, []).append(len(rows))
            else:
                row.update({column: earlier[column] for column in _PRIMARY},
                           same_as=_row_name(earlier["comparison"], earlier["label"]), _first=earlier["_first"])
            rows.append(row)
    family = pd.DataFrame(rows, columns=FAMILY_COLUMNS[:-2] + ["_first"])
    unique = family[family["same_as"] == ""]
    adjusted = dict(zip(unique["_first"], holm_adjust(list(unique["p_value"].astype(float)))))
    family["holm_p"] = family["_first"].map(adjusted).astype(float)
    family["holm_significant"] = family["holm_p"] < alpha
    return family.drop(columns="_first")


# the primary analysis of an arm: what a repeated comparison takes from its first occurrence
_PRIMARY = ("ci_low", "ci_high", "p_value", "test", "df", "significant", "verdict")


def _same_runs(earlier: dict, row: dict) -> bool:
    """Whether two rows compare the same runs: equal seed pairs and mean difference."""
    return earlier["pairs"] == row["pairs"] and abs(float(earlier["diff"]) - float(row["diff"])) < 1e-9


def _is_han_or_fullwidth(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef"


def _spaced(left: str, right: str) -> str:
    """``left + right`` with a space where Han text meets Latin or Greek (as Chinese typesetting
    spaces them), none next to a Han character or full-width bracket on both sides."""
    both_han = _is_han_or_fullwidth(left[-1:]) and _is_han_or_fullwidth(right[:1])
    return f"{left}{'' if both_han else ' '}{right}"


def _row_name(comparison: str, label: str) -> str:
    """How prose and ``same_as`` name one row: the comparison, then the arm."""
    return _spaced(f"{comparison}中的", label)


@lru_cache(maxsize=1)
def _model_name_pattern() -> re.Pattern[str]:
    # longest first (eca_resnet20_iso before eca_resnet20); the study's experiments name comparisons
    names = sorted([*list_models(), *MAIN_EXPERIMENTS], key=len, reverse=True)
    return re.compile(r"(?<![\w`])(" + "|".join(map(re.escape, names)) + r")(?![\w`])")


def code_model_names(text: str) -> str:
    """Markdown: every registered model name and study experiment in ``text`` set as code, the way
    the book's other sentences write them (``resnet20`` inside ``eca_resnet20`` is left alone)."""
    return _model_name_pattern().sub(r"`\1`", text)


def _distinct(family: pd.DataFrame) -> pd.DataFrame:
    """The family's own members: each comparison once (repeats dropped) and only those with an interval."""
    return family[(family["same_as"] == "") & family["ci_low"].notna()]


def _unconfirmed_rows(family: pd.DataFrame) -> pd.DataFrame:
    distinct = _distinct(family)
    return distinct[distinct["significant"] & ~distinct["holm_significant"]]


def family_counts(family: pd.DataFrame) -> dict[str, int]:
    """Distinct comparisons: recorded, with an interval, significantly higher / lower, and how many
    of the significant ones survive Holm's correction."""
    with_ci = _distinct(family)
    return {"n": int((family["same_as"] == "").sum()), "n_ci": len(with_ci),
            "up": int((with_ci["significant"] & (with_ci["diff"] > 0)).sum()),
            "down": int((with_ci["significant"] & (with_ci["diff"] < 0)).sum()),
            "holm": int(with_ci["holm_significant"].sum())}


def _call(row: pd.Series, with_p: bool = True) -> str:
    p = f"，校正后 p = {_p_text(row['holm_p'])}" if with_p else ""
    return f"{_row_name(row['comparison'], row['label'])}（{row['diff']:+.2f}{p}）"


def family_sentence(family: pd.DataFrame, alpha: float = 0.05) -> str:
    """Chinese: how many false calls chance alone would give, which calls survive Holm, which do not."""
    distinct = _distinct(family)
    m = len(distinct)
    if m < 2:
        return "有区间的比较还不到两个，不需要多重比较校正。"
    kept = distinct[distinct["holm_significant"]]
    lost = _unconfirmed_rows(family)
    text = (f"这 {m} 个有区间的比较是同时做的：即使所有设置与参考都没有差别，{m} 个 {1 - alpha:.0%} 区间平均也会有 "
            f"{alpha * m:.1f} 个碰巧不含 0。用 Holm 方法把整族中出现任何一次误判的概率控制在 "
            f"{alpha:.0%} 以内（表中的“校正后 p”）后，")
    if len(kept):
        text += f"仍然显著的有 {len(kept)} 个：" + "；".join(_call(r) for _, r in kept.iterrows()) + "。"
    else:
        text += "没有一个比较仍然显著。"
    if len(lost):
        text += ("单独看显著、校正后不再显著的有 " + "；".join(_call(r) for _, r in lost.iterrows())
                 + "：它们应当作提示，需要更多种子才能确认。")
    else:
        text += "单独看显著的比较在校正后全部保留。"
    return code_model_names(text)


def unconfirmed(family: pd.DataFrame) -> list[str]:
    """Labels of the calls that are significant alone but not after Holm's correction."""
    return list(_unconfirmed_rows(family)["label"])


def family_headline(family: pd.DataFrame) -> str:
    """One Chinese sentence for the overview: which calls survive Holm's correction."""
    distinct = _distinct(family)
    if len(distinct) < 2:
        return ""
    kept = distinct[distinct["holm_significant"]]
    names = "、".join(_call(r, with_p=False) for _, r in kept.iterrows())
    return code_model_names(f"连同消融实验，全书共有 {len(distinct)} 个能给出区间的比较，它们是同时做的；把它们当作一族、"
            "用 Holm 方法校正后，" + (f"仍然显著的只有 {names}" if len(kept) else "没有一个比较仍然显著")
            + "（见结论一章）。")


def _p_text(p: float) -> str:
    if pd.isna(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _holm_call(row: pd.Series) -> str:
    if row["same_as"]:
        return "重复"
    if pd.isna(row["holm_p"]):
        return "—"
    if row["holm_significant"]:
        return "仍显著"
    return "不再显著" if row["significant"] else "不显著"


def repeats_sentence(family: pd.DataFrame) -> str:
    """Chinese: which rows of the table repeat an earlier comparison (and so count once)."""
    repeats = family[family["same_as"] != ""]
    if repeats.empty:
        return ""
    pairs = "；".join(_spaced(_row_name(r["comparison"], r["label"]), f"就是 {r['same_as']}")
                     for _, r in repeats.iterrows())
    return code_model_names(f"标为“重复”的行与前面某一行是同一比较（同一模型对同一参考、同一批运行），只计一次，区间与校正沿用前一行：{pairs}。")


def family_display(family: pd.DataFrame) -> pd.DataFrame:
    """The book's table of :func:`comparison_family`: short Chinese headers and calls, rounded
    numbers; a repeated comparison says so (:func:`repeats_sentence` says which)."""
    return pd.DataFrame({
        "比较": family["comparison"], "设置": family["label"], "种子对": family["pairs"].astype(int),
        "差（百分点）": ["—" if pd.isna(d) else f"{d:+.2f}" for d in family["diff"]],
        "95% 区间": [format_interval(lo, hi) for lo, hi in zip(family["ci_low"], family["ci_high"])],
        "方法": [t if t != BLOCK else f"{t}（自由度 {d}）" for t, d in zip(family["test"], family["df"])],
        "p": [_p_text(p) for p in family["p_value"]],
        "单独看": [short_verdict(r) for _, r in family.iterrows()],
        "Holm p": [_p_text(p) for p in family["holm_p"]],
        "校正后": [_holm_call(r) for _, r in family.iterrows()],
        "配对 t 区间": [format_interval(lo, hi) for lo, hi in zip(family["t_low"], family["t_high"])],
        "配对 t p": [_p_text(p) for p in family["t_p"]],
    })
