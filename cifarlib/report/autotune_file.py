"""The execution policy's effect: ``benchmarks/results/autotune_cpu.txt`` parsed, each candidate's
speed-up over fp32/NCHW, and the same from the records' ``execution_policy``."""

from __future__ import annotations

import pandas as pd


def parse_autotune_table(text: str) -> pd.DataFrame:
    """Parse ``benchmarks/results/autotune_cpu.txt`` (the text ``benchmarks/autotune_table.py`` prints).

    One row per model: ``model``, one column of seconds per training step per candidate
    (``fp32/NCHW`` ...), ``chosen``, ``images_per_s`` and ``fwd_gflop_per_s``. The comment lines
    (``# ...``) are kept in ``attrs['comments']`` (they name the CPU, threads and batch size).
    """
    comments = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines or not lines[0].split()[0] == "model":
        raise ValueError("not an autotune table: the first non-comment line must be the header 'model ...'")
    candidates = [tok for tok in lines[0].split() if tok.startswith(("fp32/", "bf16/", "fp16/"))]
    rows = []
    for line in lines[1:]:
        tokens = line.split()
        expected = 1 + len(candidates) + 3
        if len(tokens) != expected:
            raise ValueError(f"autotune row has {len(tokens)} fields, expected {expected}: {line!r}")
        row = {"model": tokens[0]}
        row.update({c: float(v) for c, v in zip(candidates, tokens[1:1 + len(candidates)])})
        row.update(chosen=tokens[1 + len(candidates)], images_per_s=float(tokens[-2]),
                   fwd_gflop_per_s=float(tokens[-1]))
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["comments"] = comments
    table.attrs["candidates"] = candidates
    return table


def batch_size_from_comments(comments: list[str], default: int = 128) -> int:
    """The batch size named in the autotune table's comment lines (``batch 128``)."""
    import re

    for line in comments:
        if match := re.search(r"batch (\d+)", line):
            return int(match.group(1))
    return default


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
    """From the records' ``execution_policy.seconds_per_step``: per model the median over runs of
    the chosen candidate's speed-up over fp32/NCHW, the policies chosen and the run count."""
    rows = []
    for d in details:
        policy = d.get("execution_policy") or {}
        steps = policy.get("seconds_per_step") or {}
        if d["experiment"] != experiment or "fp32/NCHW" not in steps:
            continue
        label = f"{policy['precision']}/{'channels_last' if policy['channels_last'] else 'NCHW'}"
        if label not in steps:
            continue
        rows.append({"model": d["model"], "policy": label, "speedup": steps["fp32/NCHW"] / steps[label]})
    if not rows:
        return pd.DataFrame(columns=["model", "runs", "policies", "speedup"])
    frame = pd.DataFrame(rows)
    return frame.groupby("model", sort=False).agg(
        runs=("speedup", "size"), policies=("policy", lambda s: "、".join(sorted(set(s)))),
        speedup=("speedup", "median")).reset_index()
