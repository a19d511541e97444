"""Design or capacity: each graft as designed and at resnet20's parameter count, side by side.

Grafted as their papers design them, the methods change the backbone's parameter count by up to
3.5x, so a difference to resnet20 mixes the design with the model's size. The iso-parameter
version (``<graft>_iso``) keeps the design and matches the size. Reading both differences to
resnet20 together (:func:`cifarlib.report.ablations.ablation_table` rows, paired by seed) separates the two:

* lower as designed, no detectable difference at equal size: the gap is the size;
* lower in both: the design itself costs accuracy at this budget;
* anything else is stated as it is, and nothing is concluded without two seed pairs.
"""

from __future__ import annotations

import pandas as pd

from .tables import format_interval

ISO_SUFFIX = "_iso"
PAIR_COLUMNS = ["model", "params_designed", "diff_designed", "low_designed", "high_designed", "pairs_designed",
                "significant_designed", "params_iso", "diff_iso", "low_iso", "high_iso", "pairs_iso", "significant_iso"]


def design_params(runs: pd.DataFrame, experiments: tuple[str, ...] = ("main", "main_iso")) -> dict[str, float]:
    """Parameter counts (millions) of the models the table compares: from the default-variant
    records of ``experiments`` only (an ablation arm of the same model, e.g. ``ghost_resnet20`` at
    s=3, has other parameters). A model whose records disagree is refused, naming it."""
    if runs.empty:
        return {}
    rows = runs[runs["experiment"].isin(experiments) & (runs["variant"] == "default")]
    counts = rows.groupby("model")["params_m"].agg(["min", "max"])
    bad = counts[counts["min"] != counts["max"]]
    if len(bad):
        raise ValueError(f"records of {list(bad.index)} in {experiments} disagree on params_m; "
                         "one model has one parameter count: check their configs")
    return counts["min"].to_dict()


def design_pairs(designed: pd.DataFrame, iso: pd.DataFrame, params: dict[str, float]) -> pd.DataFrame:
    """One row per graft that has arms in both ``ablation_table`` outputs (``designed``: main vs
    resnet20, ``iso``: main_iso vs resnet20), with both differences, intervals and parameter counts
    (``params``: model name -> millions)."""
    arms_d = designed[designed["role"] == "arm"].set_index("label")
    arms_i = iso[iso["role"] == "arm"].set_index("label")
    rows = []
    for label, r in arms_i.iterrows():
        model = label[: -len(ISO_SUFFIX)] if label.endswith(ISO_SUFFIX) else label
        if model not in arms_d.index:
            continue
        d = arms_d.loc[model]
        rows.append({"model": model, "params_designed": params.get(model), "diff_designed": d["diff"],
                     "low_designed": d["ci_low"], "high_designed": d["ci_high"], "pairs_designed": int(d["pairs"]),
                     "significant_designed": bool(d["significant"]), "params_iso": params.get(label),
                     "diff_iso": r["diff"], "low_iso": r["ci_low"], "high_iso": r["ci_high"],
                     "pairs_iso": int(r["pairs"]), "significant_iso": bool(r["significant"])})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def reading(row: pd.Series) -> str:
    """What the pair of intervals says, in Chinese (the ``significant`` flags are the study's rule,
    :func:`cifarlib.report.stats.significant`, as :func:`cifarlib.report.ablations.ablation_table` applied it)."""
    if any(pd.isna(row[c]) for c in ("low_designed", "high_designed", "low_iso", "high_iso")):
        return "种子不足，暂不下结论"
    lower_d = row["significant_designed"] and row["diff_designed"] < 0
    lower_i = row["significant_iso"] and row["diff_iso"] < 0
    if lower_d and not row["significant_iso"]:
        return "差距来自参数量：等参数后无可检测差异"
    if lower_d and lower_i:
        return "等参数后仍显著更低：设计本身在这一预算下有代价"
    if not lower_d and lower_i:
        return "只在等参数后显著更低"
    return "两种形式都没有显著更低"


def design_display(pairs: pd.DataFrame) -> pd.DataFrame:
    """The side-by-side table for the book (Chinese headers, rounded numbers)."""
    def diff(d: float, lo: float, hi: float, n: int) -> str:
        return "—" if pd.isna(d) else f"{d:+.2f} {format_interval(lo, hi)}（{n} 对）"

    return pd.DataFrame({
        "嫁接": pairs["model"],
        "原设计参数（百万）": pairs["params_designed"].map(lambda v: "—" if pd.isna(v) else f"{v:.3f}"),
        "原设计：差 [95% CI]": [diff(*v) for v in zip(pairs["diff_designed"], pairs["low_designed"],
                                                                   pairs["high_designed"], pairs["pairs_designed"])],
        "等参数版参数（百万）": pairs["params_iso"].map(lambda v: "—" if pd.isna(v) else f"{v:.3f}"),
        "等参数：差 [95% CI]": [diff(*v) for v in zip(pairs["diff_iso"], pairs["low_iso"],
                                                                   pairs["high_iso"], pairs["pairs_iso"])],
        "解读": pairs.apply(reading, axis=1),
    })


def design_sentence(pairs: pd.DataFrame) -> str:
    """The discussion's paragraph: which gaps are size and which are design."""
    if pairs.empty:
        return "还没有同时具备原设计与等参数记录的嫁接，无法区分设计与容量。"
    readings = pairs.assign(reading=pairs.apply(reading, axis=1))
    groups = readings.groupby("reading", sort=False)["model"].apply(lambda m: "、".join(f"`{x}`" for x in m))
    parts = [f"{reading}：{models}" for reading, models in groups.items()]
    return ("把每个嫁接的两种形式与 `resnet20` 的差放在一起看（同一预算，区组模型的区间）：" + "；".join(parts) + "。"
            "按原设计嫁接的排名因此部分是在比较参数量；本书以等参数组作为主比较，正是为此。")
