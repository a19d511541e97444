"""The efficiency chapter's table: per model parameters, FLOPs and training / inference throughput
from the benchmark files and the records."""

from __future__ import annotations

import pandas as pd


def efficiency_table(runs: pd.DataFrame, autotune: pd.DataFrame | None = None,
                     inference: pd.DataFrame | None = None, experiment: str = "main") -> pd.DataFrame:
    """Per model: parameters, forward GFLOPs, training images/s (quiet benchmark and, separately,
    the records' mean / min / max over runs), achieved forward GFLOP/s (images/s x GFLOP per
    image) and inference images/s. Models come from the records' ``experiment`` and the benchmark.
    """
    models: list[str] = []
    group = runs[runs["experiment"] == experiment] if len(runs) else runs
    if len(group):
        models += list(dict.fromkeys(group["model"]))
    if autotune is not None:
        models += [m for m in autotune["model"] if m not in models]
    cost = {}
    if inference is not None:
        cost.update({m: (p, g) for m, p, g in zip(inference["model"], inference["params_m"], inference["gflops"])})
    if len(group):
        for m, g in group.groupby("model"):
            cost[m] = (float(g["params_m"].iloc[0]), float(g["gflops"].iloc[0]))
    rows = []
    for m in models:
        params, gflops = cost.get(m, (float("nan"), float("nan")))
        row = {"model": m, "params_m": params, "gflops": gflops}
        if autotune is not None and m in set(autotune["model"]):
            a = autotune[autotune["model"] == m].iloc[0]
            row.update(bench_images_per_s=a["images_per_s"], bench_policy=a["chosen"])
        g = group[group["model"] == m] if len(group) else group
        if len(g):
            row.update(record_images_per_s=g["train_images_per_s"].mean(),
                       record_min=g["train_images_per_s"].min(), record_max=g["train_images_per_s"].max(),
                       record_runs=len(g))
        if inference is not None and m in set(inference["model"]):
            row["inference_images_per_s"] = float(inference.loc[inference["model"] == m, "images_per_s"].iloc[0])
        rows.append(row)
    columns = ["model", "params_m", "gflops", "bench_images_per_s", "bench_policy", "record_images_per_s",
               "record_min", "record_max", "record_runs", "inference_images_per_s"]
    table = pd.DataFrame(rows).reindex(columns=columns)
    table["bench_gflop_per_s"] = table["bench_images_per_s"] * table["gflops"]
    table["inference_gflop_per_s"] = table["inference_images_per_s"] * table["gflops"]
    return table


def record_machines(details: list[dict], experiment: str = "main") -> list[str]:
    """The distinct machines the records of ``experiment`` were trained on, in the book's words and
    record order: ``AMD EPYC、1 个线程`` for a CPU ``device`` (``AMD EPYC (1 threads)``), a GPU's
    name as recorded; empty without records."""
    from .bench_header import DEVICE_NAME, threads_phrase

    found: list[str] = []
    for d in details:
        if d["experiment"] != experiment or not d.get("device"):
            continue
        cpu = DEVICE_NAME.fullmatch(d["device"].strip())
        machine = f"{cpu.group('cpu')}、{threads_phrase(int(cpu.group('threads')))}" if cpu else d["device"]
        if machine not in found:
            found.append(machine)
    return found
