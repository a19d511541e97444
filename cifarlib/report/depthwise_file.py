"""``benchmarks/results/depthwise_cpu.txt`` parsed: the grafts' depthwise convolution shapes timed
(forward + backward) in every formulation of ``benchmarks/depthwise_formulations.py``, and the
efficiency chapter's sentence about them."""

from __future__ import annotations

import pandas as pd

from .bench_header import BenchConditions, comment_lines, search_header, threads_phrase

DEPTHWISE_HEADER = (r"^(?P<cpu>.+?), torch (?P<torch>\S+), (?P<threads>\d+) thread\(s\), batch (?P<batch>\d+), "
                    r"forward \+ backward, median of (?P<repeats>\d+) interleaved repeats$")
"""The comment line ``benchmarks/depthwise_formulations.py`` prints first."""
RERUN = "`OMP_NUM_THREADS=1 python benchmarks/depthwise_formulations.py --out FILE`"
FORMULATION_WORDS = {
    "conv_cl": "同一个卷积换成 channels_last 内存格式",
    "conv_bf16": "再加 bf16 自动混合精度",
    "shifted": "平移相加",
    "strip1d": "一维卷积",
}
"""The formulations other than the baseline ``conv`` (``F.conv2d``, NCHW) in the book's words; the
code name follows each in the sentence."""


def parse_depthwise(text: str, source: str = "depthwise table") -> pd.DataFrame:
    """One row per (case, formulation): ``case`` (the shape's label, spaces and all), ``formulation``,
    ``ms``, ``gflop_per_s``, ``x_conv`` (speed relative to ``conv`` of the same case, > 1 faster)
    and ``max_diff``. Malformed text fails, naming ``source`` and the fix."""
    rows = []
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines or lines[0].split()[:2] != ["case", "formulation"]:
        raise ValueError(f"{source} is not a depthwise-formulation table: the first non-comment line must be "
                         f"the header 'case formulation ...'; write it with {RERUN}")
    for line in lines[1:]:
        tokens = line.split()
        try:
            formulation, ms, rate, ratio, diff = tokens[-5], *map(float, tokens[-4:])
        except (ValueError, IndexError):
            raise ValueError(f"{source}: unreadable row {line!r} (expected: case, formulation, ms, GFLOP/s, "
                             f"x conv, max |diff|); write it again with {RERUN}") from None
        rows.append({"case": " ".join(tokens[:-5]), "formulation": formulation, "ms": ms, "gflop_per_s": rate,
                     "x_conv": ratio, "max_diff": diff})
    table = pd.DataFrame(rows, columns=["case", "formulation", "ms", "gflop_per_s", "x_conv", "max_diff"])
    if table.empty or "conv" not in set(table["formulation"]):
        raise ValueError(f"{source} has no rows of the baseline formulation 'conv'; write it with {RERUN}")
    return table


def depthwise_conditions(text: str, source: str = "depthwise table") -> BenchConditions:
    """CPU, threads, torch version, batch size and repeats (as ``steps``) from the header line."""
    match = search_header(comment_lines(text), DEPTHWISE_HEADER, source, "the CPU, threads, batch and repeats",
                          f"keep the first line the script prints ({RERUN})")
    return BenchConditions(cpu=match.group("cpu"), threads=int(match.group("threads")), torch=match.group("torch"),
                           batch_size=int(match.group("batch")), steps=int(match.group("repeats")))


def formulation_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per formulation other than ``conv``, in :data:`FORMULATION_WORDS` order: the cases it was
    timed on, how many of them it was faster than ``conv`` on, and its slowest and fastest speed
    relative to ``conv``."""
    rows = []
    for name in [f for f in FORMULATION_WORDS if f in set(table["formulation"])]:
        ratios = table.loc[table["formulation"] == name, "x_conv"]
        rows.append({"formulation": name, "cases": len(ratios), "faster": int((ratios > 1).sum()),
                     "min": float(ratios.min()), "max": float(ratios.max())})
    return pd.DataFrame(rows, columns=["formulation", "cases", "faster", "min", "max"])


def formulations_sentence(table: pd.DataFrame, conditions: BenchConditions) -> str:
    """What ``benchmarks/depthwise_formulations.py`` found, in the book's words: the conditions,
    each formulation's speed relative to ``F.conv2d`` (range, and on how many shapes it was faster),
    and a conclusion only where the numbers carry it: the rewrites (``shifted``, ``strip1d``) are
    called slower only when neither was faster on any shape, and channels_last is called faster on
    "most" shapes when it was on more than half, on "some" when on at least one."""
    summary = formulation_summary(table).set_index("formulation")
    cases = table["case"].nunique()
    parts = [f"{FORMULATION_WORDS[f]}（`{f}`）为 {summary.loc[f, 'min']:.2f}–{summary.loc[f, 'max']:.2f} 倍，"
             f"{int(summary.loc[f, 'cases'])} 个形状中 {int(summary.loc[f, 'faster'])} 个更快" for f in summary.index]
    text = (f"`benchmarks/depthwise_formulations.py` 在 {conditions.cpu} 上（{threads_phrase(conditions.threads)}，"
            f"批大小 {conditions.batch_size}，前向加反向，{conditions.steps} 次交错重复取中位数）"
            f"把这些嫁接的 {cases} 种深度卷积形状写成计算同一函数的几种形式，以 `F.conv2d`（NCHW）的速度为 1："
            + "；".join(parts) + "（结果在 `benchmarks/results/depthwise_cpu.txt`）。")
    rewrites = [f for f in ("shifted", "strip1d") if f in summary.index]
    if rewrites and all(summary.loc[f, "faster"] == 0 for f in rewrites):
        text += "换一种运算来写深度卷积在所有形状上都更慢；"
    if "conv_cl" in summary.index and summary.loc["conv_cl", "faster"] > 0:
        share = "多数" if summary.loc["conv_cl", "faster"] > summary.loc["conv_cl", "cases"] / 2 else "部分"
        text += f"换成 channels_last 却在{share}形状上更快，这正是下一节的执行策略要实测的选择。"
    elif text.endswith("；"):
        text = text[:-1] + "。"
    return text
