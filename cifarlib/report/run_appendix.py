"""The PDF's appendix of runs: one compact table per experiment, one row per run record, in place
of the archived run notebooks (``book/runs/``), which only the HTML shows. ``book/_ext/run_appendix.py``
sets these tables in the LaTeX build."""

from __future__ import annotations

import pandas as pd

from .budget_line import DATASET_SHORT_NAMES

COLUMNS = ("模型", "变体", "种子", "top-1 (%)", "参数量（百万）", "轮数", "用时（分钟）")


def experiment_tables(runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """``[(caption, table)]``: for each (data set, experiment) of ``runs`` (``results.load_runs``),
    in name order, its runs sorted by model, variant and seed, with the columns of
    :data:`COLUMNS` as printed text (top-1 to two decimals, parameters to three, minutes to one).
    An empty ``runs`` gives no tables."""
    if runs.empty:
        return []
    missing = {"dataset", "experiment", "model", "variant", "seed", "test_top1", "params_m", "epochs",
               "wall_time_s"} - set(runs.columns)
    if missing:
        raise ValueError(f"run table lacks columns {sorted(missing)}: pass results.load_runs()")
    tables = []
    for (dataset, experiment), group in runs.groupby(["dataset", "experiment"], sort=True):
        group = group.sort_values(["model", "variant", "seed"])
        table = pd.DataFrame({
            COLUMNS[0]: group["model"], COLUMNS[1]: group["variant"], COLUMNS[2]: group["seed"].astype(int),
            COLUMNS[3]: [f"{v:.2f}" for v in group["test_top1"]],
            COLUMNS[4]: [f"{v:.3f}" for v in group["params_m"]],
            COLUMNS[5]: group["epochs"].astype(int),
            COLUMNS[6]: [f"{v / 60:.1f}" for v in group["wall_time_s"]],
        }).reset_index(drop=True)
        name = DATASET_SHORT_NAMES.get(dataset, dataset)
        tables.append((f"{name} / {experiment}：{len(table)} 个运行", table))
    return tables
