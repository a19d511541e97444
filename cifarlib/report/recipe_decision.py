"""Which recipe changes become defaults: the recipe family under Holm, decided on a validation split.

**The family.** A recipe experiment offers every (training variant, evaluation view) cell as a
candidate recipe (:mod:`cifarlib.report.recipe_evidence`): batch 64 or 128, each scored by the
trained weights or their EMA, with or without flip TTA. Every cell is compared with the plain
base recipe (``base``, trained weights, no TTA) as a difference paired by seed (the paired t of
:func:`cifarlib.report.stats.paired_difference`), and Holm's adjustment runs over all of those
cells (:func:`cifarlib.report.stats.holm_adjust`), because every one of them was looked at when
the recipe was chosen.

**The items.** Each decision reads its own cell: batch 64 is ``(bs64, model)``, the weight EMA
``(base, ema)``, flip TTA ``(base, model+flip)``. An item is adopted only when its difference is
positive and its Holm-adjusted p-value is below ``alpha``; otherwise the base recipe's setting stays.

**The split.** The validation top-1 of the ``recipe_val`` experiment (the record's ``val``
section: a ``val_split`` hold-out of the training images, never trained on) once every run the
plan asks of it has a record (a sweep half-way through does not flip the decision on a seed or
two). Until then the decision comes from the ``recipe`` experiment's test top-1, and says so:
it was read off the test set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .recipe_evidence import VIEW_LABELS, recipe_scores
from .stats import holm_adjust, paired_difference
from .tables import format_interval

VAL_EXPERIMENT = "recipe_val"  # the plan preset of the same name: val_split 5000
TEST_EXPERIMENT = "recipe"
RECIPE_EXPERIMENTS = (TEST_EXPERIMENT, VAL_EXPERIMENT)  # the results chapter leaves them to the setup page
REFERENCE = ("base", "model")
ALPHA = 0.05
ADOPT, KEEP = "adopt", "keep base"


@dataclass(frozen=True)
class RecipeItem:
    """One change the recipe decides: its cell of the family and the ``TrainConfig`` field it sets."""

    key: str
    label: str  # Chinese, for the book's tables
    short: str  # Chinese, inside a sentence
    cell: tuple[str, str]  # (variant, view) compared with REFERENCE
    field: str
    adopted: Any  # the field's value when the change is adopted
    base: Any  # its value in the base recipe


RECIPE_ITEMS = (
    RecipeItem("bs64", "批大小 64（基础配方 128）", "批大小 64", ("bs64", "model"), "batch_size", 64, 128),
    RecipeItem("ema", "权重 EMA（衰减 0.999）", "权重 EMA", ("base", "ema"), "ema_decay", 0.999, 0.0),
    RecipeItem("flip", "翻转 TTA", "翻转 TTA", ("base", "model+flip"), "tta", "flip", "none"),
)
SPLIT_LABELS = {"val": "验证集", "test": "测试集"}


@dataclass(frozen=True)
class RecipeDecision:
    """The family (one row per cell) and the decision per item, from one split of one experiment."""

    split: str  # "val", "test", or "" when neither experiment has records
    experiment: str
    family: pd.DataFrame
    items: pd.DataFrame
    val_runs: tuple[int, int] = (0, 0)  # recipe_val's runs with a validation record, and planned

    def defaults(self) -> dict[str, Any]:
        """The ``TrainConfig`` value of every item's field that this decision gives."""
        decided = dict(zip(self.items["item"], self.items["decision"])) if len(self.items) else {}
        return {item.field: item.adopted if decided.get(item.key) == ADOPT else item.base for item in RECIPE_ITEMS}


def family_table(scores: pd.DataFrame, reference: tuple[str, str] = REFERENCE) -> pd.DataFrame:
    """Every (variant, view) cell but ``reference`` against it, paired by seed, Holm over the cells:
    columns variant, view, seeds, diff, low, high, p, holm_p (NaN where fewer than two seeds are shared)."""
    columns = ["variant", "view", "seeds", "diff", "low", "high", "p", "holm_p"]
    if scores.empty:
        return pd.DataFrame(columns=columns)
    cells = {key: dict(zip(g["seed"], g["top1"])) for key, g in scores.groupby(["variant", "view"], sort=False)}
    if reference not in cells:
        raise ValueError(f"the recipe family needs its reference cell {reference} (variant, view); the records "
                         f"have {sorted(cells)}: run the base recipe (python -m cifarlib sweep {VAL_EXPERIMENT})")
    rows = []
    for key, by_seed in cells.items():
        if key == reference:
            continue
        shared = set(by_seed) & set(cells[reference])
        diff = paired_difference(by_seed, cells[reference]) if shared else None
        rows.append({"variant": key[0], "view": key[1], "seeds": len(shared),
                     "diff": diff.estimate if diff else math.nan, "low": diff.low if diff else math.nan,
                     "high": diff.high if diff else math.nan, "p": diff.p_value if diff else math.nan})
    table = pd.DataFrame(rows, columns=columns[:-1])
    table["holm_p"] = holm_adjust(table["p"].tolist())
    order = {v: i for i, v in enumerate(VIEW_LABELS)}
    return table.sort_values(["variant", "view"], key=lambda c: c.map(order) if c.name == "view" else c,
                             ignore_index=True)


def item_decisions(family: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per :data:`RECIPE_ITEMS` entry: its cell's numbers, the decision and the reason (Chinese)."""
    cells = family.set_index(["variant", "view"])
    rows = []
    for item in RECIPE_ITEMS:
        row = cells.loc[item.cell].to_dict() if item.cell in cells.index else {
            "seeds": 0, "diff": math.nan, "low": math.nan, "high": math.nan, "p": math.nan, "holm_p": math.nan}
        decision, reason = decide_one(row["diff"], row["holm_p"], alpha)
        rows.append({"item": item.key, "label": item.label, "variant": item.cell[0], "view": item.cell[1],
                     **row, "seeds": int(row["seeds"]), "decision": decision, "reason": reason})
    return pd.DataFrame(rows)


def decide_one(diff: float, holm_p: float, alpha: float = ALPHA) -> tuple[str, str]:
    """Adopt only a positive difference whose Holm-adjusted p is below ``alpha``; the reason in Chinese."""
    if math.isnan(holm_p):
        return KEEP, "与参照共有的种子不足 2 个，没有区间"
    if holm_p < alpha:
        return (ADOPT, f"Holm 校正后仍显著更高（p_Holm = {holm_p:.3f}）") if diff > 0 else (
            KEEP, f"Holm 校正后显著更低（p_Holm = {holm_p:.3f}）")
    return KEEP, f"Holm 校正后不显著（p_Holm = {holm_p:.3f} ≥ {alpha:g}）"


def planned_val_runs() -> set[tuple[str, int]]:
    """The (variant, seed) runs ``experiments/plan.yaml`` plans for :data:`VAL_EXPERIMENT`."""
    from ..sweep import plan_runs

    return {(r.variant, r.seed) for r in plan_runs(VAL_EXPERIMENT) if r.experiment == VAL_EXPERIMENT}


def decide(details: list[dict[str, Any]], alpha: float = ALPHA,
           planned: set[tuple[str, int]] | None = None) -> RecipeDecision:
    """The recipe decision from the records' details (:func:`cifarlib.results.load_details`): on
    the validation hold-out of :data:`VAL_EXPERIMENT` once it has a record of every ``planned``
    (variant, seed) run (default: the plan's, :func:`planned_val_runs`), else on the test set of
    :data:`TEST_EXPERIMENT` (``split == "test"``), else empty (``split == ""``)."""
    planned = planned_val_runs() if planned is None else planned
    val = recipe_scores(details, VAL_EXPERIMENT, "val")
    done = set(zip(val["variant"], val["seed"]))
    counts = (len(done & planned), len(planned))
    for split, experiment, scores in (("val", VAL_EXPERIMENT, val if planned and planned <= done else val.iloc[:0]),
                                      ("test", TEST_EXPERIMENT, recipe_scores(details, TEST_EXPERIMENT, "test"))):
        if not scores.empty:
            family = family_table(scores)
            return RecipeDecision(split, experiment, family, item_decisions(family, alpha), counts)
    family = family_table(pd.DataFrame())
    return RecipeDecision("", "", family, item_decisions(family, alpha), counts)


def decision_display(decision: RecipeDecision) -> pd.DataFrame:
    """The items with Chinese headers: the paired difference and its interval, raw and Holm p, decision."""
    items = decision.items
    return pd.DataFrame({
        "改动": items["label"],
        "比较（与基础配方、训练权重、不加 TTA）": [f"{v} 配方 + {VIEW_LABELS.get(w, w)}" for v, w in zip(items["variant"], items["view"])],
        "种子": items["seeds"].astype(int),
        "差（95% CI）": [("—" if math.isnan(d) else f"{d:+.2f}") + ("" if math.isnan(lo) else f" {format_interval(lo, hi)}")
                        for d, lo, hi in zip(items["diff"], items["low"], items["high"])],
        "p": items["p"].map(lambda p: "—" if math.isnan(p) else f"{p:.3f}"),
        "Holm p": items["holm_p"].map(lambda p: "—" if math.isnan(p) else f"{p:.3f}"),
        "决定": items["decision"].map({ADOPT: "采纳", KEEP: "保持基础配方"}),
    })


def decision_sentence(decision: RecipeDecision, alpha: float = ALPHA) -> str:
    """How the recipe was chosen, in Chinese: the split, the family and its size, each item's call."""
    if not decision.split:
        return f"（`{TEST_EXPERIMENT}` 与 `{VAL_EXPERIMENT}` 预设都还没有运行记录，配方尚无依据。）"
    family = decision.family
    tested = int(family["p"].notna().sum())
    where = (f"`{decision.experiment}` 预设留出的验证集上的 top-1" if decision.split == "val" else
             f"`{decision.experiment}` 预设**测试集**上的 top-1（`{VAL_EXPERIMENT}` 的验证集记录还不齐全，"
             f"计划的 {decision.val_runs[1]} 个运行已有 {decision.val_runs[0]} 个，所以这一决定仍是在测试集上读出的）")
    calls = []
    for _, r in decision.items.iterrows():
        verdict = "采纳" if r["decision"] == ADOPT else "不采纳"
        calls.append(f"{r['label']}：{verdict}，{r['reason']}")
    return (f"依据：{where}；{tested} 个（训练配方，评估方式）组合各与基础配方按种子配对比较，"
            f"Holm 校正覆盖全部 {tested} 个比较，校正后 p < {alpha:g} 且差为正才采纳。"
            + "；".join(calls) + "。")


def item_sentence(decision: RecipeDecision, key: str) -> str:
    """One item's evidence and call in Chinese, for the setup page's bullet on that default:
    the paired difference with its interval, the p-value alone and after Holm, and the default."""
    items = decision.items.set_index("item")
    item = next(i for i in RECIPE_ITEMS if i.key == key)
    if not decision.split or key not in items.index:
        return f"{item.short} 尚无运行记录，默认值取基础配方的 {item.base}"
    r = items.loc[key]
    where = SPLIT_LABELS[decision.split]
    value = decision.defaults()[item.field]
    if math.isnan(r["holm_p"]):
        return f"在{where}上，{item.short} 与参照共有的种子不足 2 个，没有区间；默认值取 {value}"
    verdict = "采纳" if r["decision"] == ADOPT else "不采纳"
    return (f"在{where}上，{item.short} 比基础配方 {r['diff']:+.2f} 个百分点（95% 区间 {format_interval(r['low'], r['high'])}），单独检验 p = {r['p']:.3f}，在 {int(decision.family['p'].notna().sum())} 个比较的"
            f"配方族内经 Holm 校正 p = {r['holm_p']:.3f}，{verdict}，默认值为 {value}")
