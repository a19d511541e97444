"""What the study costs: core-hours spent (from the records) and still to spend (estimated).

Every study run uses one core (two runs side by side on the 2-core machine), so a run's
``wall_time_s`` is its cost in core-seconds. A planned run without a record is estimated:

* from the mean wall time of the same model's records in the same experiment when it has any
  ("measured"), else in the study's other experiments ("measured_elsewhere");
* otherwise from the reference model's (``resnet20``) mean study wall time, scaled by the ratio
  of inference throughputs in ``benchmarks/results/models_cpu.txt`` ("estimated"):
  ``minutes(m) = minutes(resnet20) * images_per_s(resnet20) / images_per_s(m)``;
* a new model without a row in that table yet: from resnet20's time scaled by forward FLOPs
  (``cifarlib.profile.count_flops``), ``minutes(resnet20) * gflops(m) / gflops(resnet20)``
  ("flops", shown as 按 FLOPs 估计) until its row is measured
  (``python -m cifarlib models --only NAME --append benchmarks/results/models_cpu.txt``).

The second rule is a proxy (a training step is not an inference pass); it is replaced by the
measured rule as soon as one record of the model lands. The book's setup page prints the table and
:func:`budget_sentence`, so the budget the study chose and what it really cost stay visible.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import pandas as pd

from ..paths import REPO_ROOT
from .stats import mean_sd

TARGET_CORE_HOURS = 10.0
"""The core-hours the study's budget was chosen for (setup page): the main comparison, both sets,
:data:`TARGET_SEEDS` seeds each."""
TARGET_SEEDS = 3
"""The seeds per model the budget target assumed."""

INFERENCE_TABLE = REPO_ROOT / "benchmarks" / "results" / "models_cpu.txt"
BUDGET_COLUMNS = ["experiment", "model", "planned", "done", "minutes_per_run", "basis",
                  "hours_spent", "hours_left"]


def read_model_table(path: str | Path = INFERENCE_TABLE) -> pd.DataFrame:
    """The table ``python -m cifarlib models`` prints (model, family, method, params_m, gflops,
    images_per_s), as committed in ``benchmarks/results/models_cpu.txt``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"inference table {path} not found; write it with "
                                f"`python -m cifarlib models > {path}`")
    return pd.read_csv(io.StringIO(path.read_text()), sep=r"\s+", comment="#")


def read_inference_speed(path: str | Path = INFERENCE_TABLE) -> dict[str, float]:
    """Model name -> inference images/s from :func:`read_model_table`."""
    table = read_model_table(path)
    return dict(zip(table["model"], table["images_per_s"].astype(float)))


def model_gflops(name: str) -> float:
    """Forward GFLOPs of ``name`` at 32x32 (100 classes), counted on a freshly built model."""
    from ..models import create_model
    from ..profile import count_flops

    return count_flops(create_model(name)) / 1e9


def study_budget(runs: pd.DataFrame, planned: pd.DataFrame, inference: dict[str, float],
                 reference: str = "resnet20", gflops: Callable[[str], float] = model_gflops) -> pd.DataFrame:
    """One row per planned (experiment, model): runs planned and done, minutes per run and its
    basis (``measured`` in this experiment's records, ``measured_elsewhere`` from the model's
    records in the study's other experiments, ``estimated`` from inference throughput, or ``flops`` for a model with
    neither a record nor an inference row), core-hours spent and left. ``runs`` are the study's
    records (:func:`cifarlib.report.study_plan.study_runs`), ``planned`` its plan
    (:func:`cifarlib.report.study_plan.planned_runs`)."""
    if planned.empty:
        return pd.DataFrame(columns=BUDGET_COLUMNS)
    minutes_of = {} if runs.empty else (runs.groupby("model")["wall_time_s"].mean() / 60).to_dict()
    # an experiment's own records first: main's runs and an ablation's differ in model and load
    minutes_in = {} if runs.empty else (runs.groupby(["experiment", "model"])["wall_time_s"].mean() / 60).to_dict()
    if reference not in minutes_of:
        raise ValueError(f"no study record of the reference model {reference!r}: the estimates "
                         f"scale its measured wall time; run it first")
    rows = []
    for (experiment, model), group in planned.groupby(["experiment", "model"], sort=False):
        done = runs[(runs["experiment"] == experiment) & (runs["model"] == model)] if len(runs) else runs
        done_keys = set(zip(done["variant"], done["seed"].astype(int))) if len(done) else set()
        left = sum((v, int(s)) not in done_keys for v, s in zip(group["variant"], group["seed"]))
        if (experiment, model) in minutes_in:
            minutes, basis = minutes_in[(experiment, model)], "measured"
        elif model in minutes_of:
            minutes, basis = minutes_of[model], "measured_elsewhere"
        elif model in inference and reference in inference:
            minutes, basis = minutes_of[reference] * inference[reference] / inference[model], "estimated"
        else:  # a new model: no record, no measured row yet
            minutes, basis = minutes_of[reference] * gflops(model) / gflops(reference), "flops"
        rows.append({"experiment": experiment, "model": model, "planned": len(group),
                     "done": len(group) - left, "minutes_per_run": minutes, "basis": basis,
                     "hours_spent": float(done["wall_time_s"].sum()) / 3600 if len(done) else 0.0,
                     "hours_left": left * minutes / 60})
    return pd.DataFrame(rows, columns=BUDGET_COLUMNS)


def hours_at_seeds(budget: pd.DataFrame, experiments: tuple[str, ...], seeds: int) -> float:
    """Core-hours the models of ``experiments`` would take with ``seeds`` seeds each, counting
    the runs already done at their measured cost and the rest at the table's per-run minutes."""
    rows = budget[budget["experiment"].isin(experiments)]
    return float(sum(r.hours_spent + max(seeds - r.done, 0) * r.minutes_per_run / 60
                     for r in rows.itertuples()))


def budget_display(budget: pd.DataFrame) -> pd.DataFrame:
    """The budget table with Chinese headers and rounded numbers, for the book."""
    basis = {"measured": "实测", "measured_elsewhere": "其他实验实测", "estimated": "估计", "flops": "按 FLOPs 估计"}
    return pd.DataFrame({
        "实验": budget["experiment"], "模型": budget["model"],
        "已完成 / 计划": [f"{d} / {p}" for d, p in zip(budget["done"], budget["planned"])],
        "每次运行（分钟）": budget["minutes_per_run"].map("{:.1f}".format),
        "依据": budget["basis"].map(basis),
        "已用（核·小时）": budget["hours_spent"].map("{:.2f}".format),
        "剩余（核·小时）": budget["hours_left"].map("{:.2f}".format),
    })


def budget_sentence(budget: pd.DataFrame, runs: pd.DataFrame, reference: str = "resnet20",
                    target_hours: float = TARGET_CORE_HOURS, target_top1: float = 80.0) -> str:
    """In Chinese: what the study has cost, what is left, what three seeds everywhere would cost
    against the target, and whether the reference reaches ``target_top1`` at this budget."""
    if budget.empty:
        return "研究计划为空。"
    spent, left = budget["hours_spent"].sum(), budget["hours_left"].sum()
    done, planned = int(budget["done"].sum()), int(budget["planned"].sum())
    estimated = budget[(budget["basis"] == "estimated") & (budget["hours_left"] > 0)]
    by_flops = budget[(budget["basis"] == "flops") & (budget["hours_left"] > 0)]
    text = (f"到目前为止，研究计划的 {planned} 个运行中已完成 {done} 个，共用 **{spent:.1f} 核·小时**；"
            f"剩余 {planned - done} 个运行估计还需 **{left:.1f} 核·小时**（两个运行并排时约 {left / 2:.1f} 小时墙钟）")
    if len(estimated):
        text += f"，其中 {len(estimated)} 个模型还没有记录，按推理吞吐比例估计"
    if len(by_flops):
        text += (f"，{'、'.join(f'`{m}`' for m in by_flops['model'].unique())} 既没有记录也未测推理吞吐，"
                 "按前向 FLOPs 比例估计（很粗）")
    text += "。"
    full = hours_at_seeds(budget, ("main", "main_iso"), TARGET_SEEDS)
    ref_minutes = budget.loc[budget["model"] == reference, "minutes_per_run"]
    text += (f"如果主比较（按原设计与等参数两组）的每个模型都跑 {TARGET_SEEDS} 个种子，总计约 **{full:.0f} 核·小时**，"
             f"远超选定预算时设想的约 {target_hours:.0f} 核·小时")
    if len(ref_minutes):
        ratio = budget.assign(ratio=budget["minutes_per_run"] / ref_minutes.iloc[0])
        slow = ratio[ratio["experiment"].isin(["main", "main_iso"]) & (ratio["ratio"] >= 2)]
        if len(slow):
            low, high = f"{slow['ratio'].min():.1f}", f"{slow['ratio'].max():.1f}"
            text += (f"：主比较中有 {len(slow)} 个模型每次运行的用时是 `{reference}` 的 "
                     f"{low if low == high else f'{low}–{high}'} 倍")
    text += "。"
    single = budget[(budget["experiment"] == "main") & (budget["planned"] == 1)]
    if len(single):
        iso = budget.loc[budget["experiment"] == "main_iso", "planned"]
        names = "、".join(f"`{m}`" for m in single["model"])
        text += (f"因此按原设计的一组中，{names} 这 {len(single)} 个比 `{reference}` 慢的嫁接只跑 1 个种子"
                 "（没有区间，不下结论）" + (f"；作为主比较的等参数组保持每个模型 {int(iso.max())} 个种子" if len(iso) else "")
                 + "。")
    ref = runs[(runs["experiment"] == "main") & (runs["model"] == reference)] if len(runs) else runs
    if len(ref):
        mean, sd = mean_sd(ref["test_top1"].tolist())
        reached = "达到" if (ref["test_top1"] >= target_top1).all() else "**没有达到**"
        spread = f" ± {sd:.2f}" if len(ref) > 1 else ""
        text += (f"在这一预算下 `{reference}` 的测试集 top-1 为 {mean:.2f}{spread}%（{len(ref)} 个种子），"
                 f"{reached}研究预先设定的 {target_top1:.0f}% 目标。")
        if reached != "达到":
            text += ("要达到它需要更多轮数（本页末尾更长预算的配方证据远高于这个目标），而每个运行的成本与轮数成正比；"
                     "主比较已经超出预算，所以没有再加轮数。各模型之间的比较只在这一预算下成立。")
    return text
