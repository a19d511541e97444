"""The execution policy's effect: ``benchmarks/results/autotune_cpu.txt`` parsed, each candidate's
speed-up over fp32/NCHW, and the same from the records' ``execution_policy``."""

from __future__ import annotations

import pandas as pd

from .bench_header import BenchConditions, comment_lines, device_parts, search_header

AUTOTUNE_HEADER = (r"^(?P<device>.+? \(\d+ threads?\)), torch (?P<torch>\S+), batch (?P<batch>\d+), \d+ classes; "
                   r"seconds per training step \(median of (?P<steps>\d+)\)$")
"""The comment line ``benchmarks/autotune_table.py`` prints above its table."""


def parse_autotune_table(text: str, source: str = "autotune table") -> pd.DataFrame:
    """Parse ``benchmarks/results/autotune_cpu.txt`` (the text ``benchmarks/autotune_table.py`` prints).

    One row per model: ``model``, one column of seconds per training step per candidate
    (``fp32/NCHW`` ...), ``chosen``, ``images_per_s`` and ``fwd_gflop_per_s``. The comment lines
    (``# ...``) are kept in ``attrs['comments']`` (they name the CPU, threads and batch size).
    """
    comments = comment_lines(text)
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines or not lines[0].split()[0] == "model":
        raise ValueError(f"{source} is not an autotune table: the first non-comment line must be the header "
                         "'model ...' (write it with `python benchmarks/autotune_table.py > FILE`)")
    candidates = [tok for tok in lines[0].split() if tok.startswith(("fp32/", "bf16/", "fp16/"))]
    rows = []
    for line in lines[1:]:
        tokens = line.split()
        expected = 1 + len(candidates) + 3
        if len(tokens) != expected:
            raise ValueError(f"{source}: autotune row has {len(tokens)} fields, expected {expected}: {line!r}")
        row = {"model": tokens[0]}
        row.update({c: float(v) for c, v in zip(candidates, tokens[1:1 + len(candidates)])})
        row.update(chosen=tokens[1 + len(candidates)], images_per_s=float(tokens[-2]),
                   fwd_gflop_per_s=float(tokens[-1]))
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["comments"] = comments
    table.attrs["candidates"] = candidates
    return table


def autotune_conditions(comments: list[str], source: str = "autotune table") -> BenchConditions:
    """CPU, threads, torch version, batch size and timed steps from the comment line
    ``benchmarks/autotune_table.py`` prints (``AMD EPYC (1 threads), torch 2.4, batch 128, 10 classes;
    seconds per training step (median of 3)``); ``comments`` as in ``attrs['comments']``. A file
    without that line fails, naming ``source`` and the fix."""
    match = search_header(comments, AUTOTUNE_HEADER, source, "the CPU, threads, batch size and steps",
                          "keep the first line `python benchmarks/autotune_table.py` prints above the table")
    cpu, threads = device_parts(match.group("device"), source)
    return BenchConditions(cpu=cpu, threads=threads, torch=match.group("torch"),
                           batch_size=int(match.group("batch")), steps=int(match.group("steps")))


def policy_axes_phrase(candidates: list[str]) -> str:
    """The candidates as the product of their axes in the book's words:
    ``fp32 / bf16 精度 × NCHW / channels_last 内存格式`` for the four ``precision/format`` labels."""
    if not candidates or any(c.count("/") != 1 for c in candidates):
        raise ValueError(f"execution-policy candidates must be labels 'precision/format', got {candidates}")
    precisions = list(dict.fromkeys(c.split("/")[0] for c in candidates))
    formats = list(dict.fromkeys(c.split("/")[1] for c in candidates))
    if len(precisions) * len(formats) != len(candidates):
        raise ValueError(f"candidates {candidates} are not every precision with every memory format")
    return f"{' / '.join(precisions)} 精度 × {' / '.join(formats)} 内存格式"


def policy_effect(autotune: pd.DataFrame, baseline: str = "fp32/NCHW") -> pd.DataFrame:
    """Speed-up of every candidate over ``baseline`` (ratio of seconds per step; > 1 is faster)."""
    candidates = autotune.attrs.get("candidates") or [c for c in autotune.columns if "/" in c and c[:4] in ("fp32", "bf16")]
    out = pd.DataFrame({"model": autotune["model"]})
    for c in candidates:
        out[c] = autotune[baseline] / autotune[c]
    out["best"] = out[candidates].max(axis=1)
    out["chosen"] = autotune["chosen"]
    return out


def record_policy_effect(details: list[dict], experiment: str = "main") -> pd.DataFrame:
    """From the records' ``execution_policy.seconds_per_step``: per model the runs, the distinct
    measurements among them, the policies chosen, and the median over the distinct measurements of
    the chosen candidate's speed-up over fp32/NCHW.

    The engine times the candidates once per model and settings and caches the answer, so a run
    whose policy ``source`` is ``cached`` carries a copy of an earlier run's timings; identical
    timing sets of one model count as one measurement, so a copy does not weigh in again.
    """
    rows = []
    for d in details:
        policy = d.get("execution_policy") or {}
        steps = policy.get("seconds_per_step") or {}
        if d["experiment"] != experiment or "fp32/NCHW" not in steps:
            continue
        label = f"{policy['precision']}/{'channels_last' if policy['channels_last'] else 'NCHW'}"
        if label not in steps:
            continue
        rows.append({"model": d["model"], "policy": label, "timings": tuple(sorted(steps.items())),
                     "speedup": steps["fp32/NCHW"] / steps[label]})
    if not rows:
        return pd.DataFrame(columns=["model", "runs", "measurements", "policies", "speedup"])
    frame = pd.DataFrame(rows)
    distinct = frame.drop_duplicates(subset=["model", "timings", "policy"])
    out = frame.groupby("model", sort=False).agg(
        runs=("speedup", "size"), policies=("policy", lambda s: "、".join(sorted(set(s))))).reset_index()
    per_measurement = distinct.groupby("model", sort=False).agg(
        measurements=("speedup", "size"), speedup=("speedup", "median")).reset_index()
    return out.merge(per_measurement, on="model")[["model", "runs", "measurements", "policies", "speedup"]]
