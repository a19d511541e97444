"""``benchmarks/profile_grafts.py``'s output parsed: per model ms per step and the depthwise / dense
convolutions' share and achieved GFLOP/s."""

from __future__ import annotations

import pandas as pd


def parse_profile(text: str) -> pd.DataFrame:
    """The per-model summary of ``benchmarks/profile_grafts.py``'s output: ms per step, and for
    depthwise and dense convolutions their share of the step and the GFLOP/s they achieve."""
    import re

    rows, current = [], None
    for line in text.splitlines():
        head = re.match(r"## (\S+): (\d+) ms per step", line)
        if head:
            current = {"model": head.group(1), "ms_per_step": float(head.group(2))}
            rows.append(current)
            continue
        kind = re.match(r"(depthwise|dense) convs\s+([\d.]+) ms/step \(\s*([\d.]+)% of the step\),\s+([\d.]+) GFLOP,\s+([\d.]+) GFLOP/s", line)
        if kind and current is not None:
            current[f"{kind.group(1)}_share"] = float(kind.group(3))
            current[f"{kind.group(1)}_gflops_per_s"] = float(kind.group(5))
    return pd.DataFrame(rows)
