"""The method pages' cost tables (计算代价) and the methods index's model table: parameters and
forward FLOPs (:func:`cifarlib.profile.model_table`) with Chinese headers and values."""

from __future__ import annotations

import pandas as pd

FAMILY_ZH = {"backbone": "骨干", "graft": "嫁接版", "iso": "等参数嫁接版", "full": "完整版"}
COST_HEADERS = {"model": "模型", "family": "类别", "method": "方法", "params_m": "参数量（百万）",
                "gflops": "GFLOPs（32×32）"}


def cost_display(table: pd.DataFrame) -> pd.DataFrame:
    """``model_table``'s rows as the book prints them: Chinese headers, the family in Chinese,
    the backbone's empty method as "—", numbers rounded to three decimals."""
    unknown = set(table["family"]) - set(FAMILY_ZH)
    if unknown:
        raise ValueError(f"model family {sorted(unknown)} has no Chinese name: add it to "
                         "cifarlib.report.model_cost.FAMILY_ZH")
    return pd.DataFrame({
        COST_HEADERS["model"]: table["model"],
        COST_HEADERS["family"]: table["family"].map(FAMILY_ZH),
        COST_HEADERS["method"]: [m if isinstance(m, str) and m else "—" for m in table["method"]],
        COST_HEADERS["params_m"]: table["params_m"].map("{:.3f}".format),
        COST_HEADERS["gflops"]: table["gflops"].map("{:.3f}".format),
    })


def cost_table(names: list[str]):
    """The cost table of ``names`` (a method page: graft, backbone, full-size) ready to show: a
    Styler without the index, text columns left-aligned."""
    from ..profile import model_table

    shown = cost_display(model_table(names))
    text = [COST_HEADERS[c] for c in ("model", "family", "method")]
    return shown.style.hide(axis="index").set_properties(subset=text, **{"text-align": "left"})
