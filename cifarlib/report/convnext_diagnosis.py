"""The ConvNeXt graft's slow learning, one suspect at a time, read for the book.

``benchmarks/convnext_graft_diagnosis.py`` trains ``convnext_resnet20_iso`` on the graftcheck
budget with one switch changed per variant (layer-scale init, weight init, norm, optimizer,
pre-head norm, kernel size) and writes one JSON row per variant. This module turns that file
and the ``resnet20`` graftcheck record (same data, budget and seed) into a table with Chinese
headers and a sentence that says how much of the gap to resnet20 the best switch closes.
One seed per variant: the sentence says so and calls nothing significant.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..paths import REPO_ROOT

DIAGNOSIS_FILE = REPO_ROOT / "benchmarks" / "results" / "convnext_graft_diagnosis.json"
REFERENCE = ("graftcheck", "resnet20")  # the experiment and model that share the diagnosis's budget


def load_diagnosis(path: str | os.PathLike = DIAGNOSIS_FILE) -> pd.DataFrame:
    """One row per variant: ``variant``, ``change`` (Chinese), ``top1`` (final epoch, NaN when it
    diverged), ``diverged`` (bool), ``epochs`` (epochs with a test score: the budget, or the epochs
    before the divergence). Empty when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=["variant", "change", "top1", "diverged", "epochs"])
    rows: list[dict[str, Any]] = []
    for r in json.loads(path.read_text())["rows"]:
        curve = r.get("test_top1_by_epoch") or []
        rows.append({"variant": r["variant"], "change": r["change_zh"],
                     "top1": float(curve[-1]) if curve else float("nan"), "diverged": "diverged" in r,
                     "epochs": len(curve)})
    return pd.DataFrame(rows)


def reference_top1(runs: pd.DataFrame) -> float | None:
    """Top-1 of the graftcheck ``resnet20`` record (the diagnosis's reference), if present."""
    if runs.empty:
        return None
    experiment, model = REFERENCE
    rows = runs[(runs["experiment"] == experiment) & (runs["model"] == model)]
    return float(rows["test_top1"].mean()) if len(rows) else None


def diagnosis_display(table: pd.DataFrame, reference: float | None) -> pd.DataFrame:
    """The table as the book shows it: change, top-1, difference to the unchanged graft and to resnet20."""
    base = baseline_top1(table)

    def fmt(value: float | None, signed: bool = False) -> str:
        if value is None or pd.isna(value):
            return "—"
        return f"{value:+.2f}" if signed else f"{value:.2f}"

    out = []
    for _, r in table.iterrows():
        top1 = None if r["diverged"] else r["top1"]
        out.append({
            "改动": r["change"],
            "top-1 (%)": "发散（损失为 NaN）" if r["diverged"] else fmt(top1),
            "与默认之差（百分点）": "—" if r["variant"] == "paper" or top1 is None or base is None else fmt(top1 - base, True),
            "与 resnet20 之差（百分点）": "—" if top1 is None or reference is None else fmt(top1 - reference, True),
        })
    return pd.DataFrame(out)


def baseline_top1(table: pd.DataFrame) -> float | None:
    rows = table[table["variant"] == "paper"]
    return float(rows["top1"].iloc[0]) if len(rows) and not rows["diverged"].iloc[0] else None


def diagnosis_sentence(table: pd.DataFrame, reference: float | None) -> str:
    """How far the graft is from resnet20, and how much of that the best single switch recovers."""
    base = baseline_top1(table)
    trained = table[(table["variant"] != "paper") & ~table["diverged"]]
    if base is None or reference is None or trained.empty:
        return "排查记录或参考记录缺失，暂无结论。"
    best = trained.loc[trained["top1"].idxmax()]
    gap = reference - base
    recovered = best["top1"] - base
    share = recovered / gap if gap > 0 else float("nan")
    diverged = table[table["diverged"]]
    text = (f"在这一预算下，默认的嫁接比 `resnet20` 低 {gap:.2f} 个百分点（{base:.2f}% 对 {reference:.2f}%）。"
            f"表中最好的改动是“{best['change']}”，提高 {recovered:.2f} 个百分点，"
            f"只补回差距的 {share:.0%}；各项改动的变化在 {trained['top1'].min() - base:+.2f} 到 "
            f"{recovered:+.2f} 个百分点之间。")
    if len(diverged):
        at = sorted({int(e) + 1 for e in diverged["epochs"]})
        text += "“" + "”、“".join(diverged["change"]) + f"”在第 {'、'.join(map(str, at))} 轮就发散（损失为 NaN）。"
    text += "每个改动只有 1 个种子，没有区间，小于一两个百分点的差异不能据此下结论"
    if share < 0.5:
        text += f"；在这个 {int(trained['epochs'].max())} 轮的小预算上，表中没有哪一种改动单独补回一半的差距。"
    else:
        text += f"；“{best['change']}”补回了大半差距，是最可能的原因。"
    return text
