"""Run records: one JSON file per training run, written atomically, loaded as DataFrames.

A record holds the full config, per-epoch history, final top-1/top-5/loss, per-class accuracy,
the model's parameter count and FLOPs, training throughput, wall time and provenance (git
revision and dirty flag, python/torch/torchvision/timm versions, device, date). Records live at
``results/<dataset>/<experiment>/<run>.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd

from .paths import DEFAULT_RESULTS_DIR, REPO_ROOT, atomic_write

SCHEMA_VERSION = 1

REQUIRED_KEYS = ("schema", "run", "experiment", "dataset", "config", "history", "final",
                 "per_class_accuracy", "model_info", "throughput", "wall_time_s", "provenance")


def git_revision(repo: Path = REPO_ROOT) -> dict[str, Any]:
    """The current commit and whether tracked files have uncommitted changes."""
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        return {"commit": run("rev-parse", "HEAD"),
                "dirty": bool(run("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def provenance(device: str) -> dict[str, Any]:
    """Where and with what a run was made."""
    import timm
    import torch
    import torchvision

    return {
        **{f"git_{k}": v for k, v in git_revision().items()},
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm.__version__,
        "platform": platform.platform(),
        "device": device,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


class RecordError(ValueError):
    """A record file cannot be read or is incomplete; the message names the file."""


def quarantine_record(path: str | os.PathLike) -> Path:
    """Move a broken record aside to ``<name>.json.corrupt`` (kept for inspection); returns it."""
    path = Path(path)
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    return aside


def validate_record(record: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming missing keys or inconsistent fields."""
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise ValueError(f"run record lacks keys {missing}")
    if record["schema"] != SCHEMA_VERSION:
        raise ValueError(f"run record schema {record['schema']} != {SCHEMA_VERSION}")
    if len(record["history"]) != record["config"]["epochs"]:
        raise ValueError(f"history has {len(record['history'])} epochs, config says {record['config']['epochs']}")
    for key in ("test_top1", "test_top5", "test_loss"):
        if key not in record["final"]:
            raise ValueError(f"final metrics lack {key}")


def write_record(record: dict[str, Any], path: str | os.PathLike) -> Path:
    """Validate and write ``record`` as JSON atomically (temporary file + rename)."""
    validate_record(record)
    text = json.dumps(record, indent=1, ensure_ascii=False, allow_nan=True) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate one record; :class:`RecordError` names the file and the fix."""
    try:
        record = json.loads(Path(path).read_text())
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        validate_record(record)
    except (ValueError, KeyError, TypeError) as err:  # JSONDecodeError is a ValueError
        raise RecordError(f"run record {path} is unreadable or incomplete ({err}); delete it (or "
                          "move it aside) and rerun its run; a sweep moves it aside to *.corrupt itself") from err
    return record


def read_or_quarantine(path: str | os.PathLike, log=print) -> dict[str, Any] | None:
    """The record at ``path``; ``None`` when there is none, or when it is corrupt, in which case
    it is moved aside to ``*.corrupt`` (so its run counts as not done) and the move is logged."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return read_record(path)
    except RecordError as err:
        aside = quarantine_record(path)
        log(f"warning: {err.args[0].split(';')[0]}; moved it aside to {aside.name}; its run is trained again")
        return None


def record_paths(results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR) -> list[Path]:
    """Every record file (``*.json``; temporary and ``*.corrupt`` files are not records)."""
    return sorted(p for p in Path(results_dir).rglob("*.json") if not p.name.startswith("."))


def load_runs(results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR) -> pd.DataFrame:
    """One row per run record under ``results_dir``: identifiers, budget and final metrics."""
    rows = []
    for path in record_paths(results_dir):
        r = read_record(path)
        cfg = r["config"]
        rows.append({
            "dataset": r["dataset"], "experiment": r["experiment"], "run": r["run"],
            "model": cfg["model"], "variant": r.get("variant", "default"), "seed": cfg["seed"],
            "epochs": cfg["epochs"], "batch_size": cfg["batch_size"],
            "train_images": r["data"]["train_images"], "test_images": r["data"]["test_images"],
            "test_top1": r["final"]["test_top1"], "test_top5": r["final"]["test_top5"],
            "test_loss": r["final"]["test_loss"],
            "params_m": r["model_info"]["params"] / 1e6, "gflops": r["model_info"]["flops"] / 1e9,
            "family": r["model_info"].get("family"), "method": r["model_info"].get("method"),
            "train_images_per_s": r["throughput"]["train_images_per_s"],
            "wall_time_s": r["wall_time_s"], "amp": r["throughput"].get("amp"),
            "device": r["provenance"]["device"], "date": r["provenance"]["date"],
            "git_commit": r["provenance"]["git_commit"],
            "data_fingerprint": r["data"].get("fingerprint"),
            "path": os.path.relpath(path, results_dir),
        })
    runs = pd.DataFrame(rows)
    check_one_budget(runs)
    return runs


# What makes two runs of one experiment comparable: the same training budget on the same data.
BUDGET_COLUMNS = ("epochs", "train_images", "test_images", "data_fingerprint")


class MixedBudgetError(ValueError):
    """An experiment's records were trained on different budgets or data; the book refuses it."""


def check_one_budget(runs: pd.DataFrame) -> None:
    """Refuse an experiment whose records mix budgets (epochs, training or test images, data):
    its comparisons would set, say, a 1-epoch 2k-image test run against 4-epoch full-data runs.
    The message names the experiment, each budget and its records, and the fixes."""
    if runs.empty:
        return
    for (dataset, experiment), group in runs.groupby(["dataset", "experiment"]):
        budgets = group.groupby(list(BUDGET_COLUMNS), dropna=False)["path"].apply(list)
        if len(budgets) > 1:
            lines = [f"  {dict(zip(BUDGET_COLUMNS, key))}: {', '.join(paths)}" for key, paths in budgets.items()]
            raise MixedBudgetError(
                f"experiment {dataset}/{experiment} mixes {len(budgets)} training budgets, so its runs cannot "
                "be compared:\n" + "\n".join(lines) + "\nMove the odd records to another experiment "
                "folder (or delete them), or rerun them with the plan's settings "
                "(python -m cifarlib sweep PRESET --overwrite-stale).")


def load_histories(results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR) -> pd.DataFrame:
    """Long table of per-epoch history rows, with dataset/experiment/run/model/seed columns."""
    frames = []
    for path in record_paths(results_dir):
        r = read_record(path)
        h = pd.DataFrame(r["history"])
        h.insert(0, "dataset", r["dataset"])
        h.insert(1, "experiment", r["experiment"])
        h.insert(2, "run", r["run"])
        h.insert(3, "model", r["config"]["model"])
        h.insert(4, "variant", r.get("variant", "default"))
        h.insert(5, "seed", r["config"]["seed"])
        frames.append(h)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_per_class(results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR) -> pd.DataFrame:
    """Long table: one row per (run, class) with its test accuracy in percent."""
    rows = []
    for path in record_paths(results_dir):
        r = read_record(path)
        for cls, acc in r["per_class_accuracy"].items():
            rows.append({"dataset": r["dataset"], "experiment": r["experiment"], "run": r["run"],
                         "model": r["config"]["model"], "seed": r["config"]["seed"],
                         "class": cls, "accuracy": acc})
    return pd.DataFrame(rows)


def unpack_bits(packed: dict[str, Any]) -> "np.ndarray":
    """Per-image correctness from a record's ``test_correct`` entry (base64 of packed bits).

    The inverse of the runner's packing: ``packed["images"]`` booleans in test-set order.
    """
    import base64

    import numpy as np

    raw = np.frombuffer(base64.b64decode(packed["bits"]), dtype=np.uint8)
    bits = np.unpackbits(raw)
    n = int(packed["images"])
    if bits.size < n:
        raise ValueError(f"test_correct holds {bits.size} bits for {n} images")
    return bits[:n].astype(bool)


def load_details(results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR) -> list[dict[str, Any]]:
    """The parts of each record that are not one number per run: per image and per class.

    One dict per record with ``dataset``, ``experiment``, ``model``, ``variant``, ``seed``,
    ``classes`` (list or None), ``confusion`` (C x C integer array, rows = true class, or None),
    ``correct`` (boolean array per test image, or None), ``throughput``, ``execution_policy``,
    ``model_info``, ``device``, ``eval_views`` and ``wall_time_s``. Older records without a field get ``None`` for it.
    """
    import numpy as np

    out = []
    for path in record_paths(results_dir):
        r = read_record(path)
        confusion = r.get("confusion")
        out.append({
            "dataset": r["dataset"], "experiment": r["experiment"], "model": r["config"]["model"],
            "variant": r.get("variant", "default"), "seed": r["config"]["seed"],
            "classes": r.get("classes") or list(r["per_class_accuracy"]),
            "confusion": None if confusion is None else np.asarray(confusion, dtype=np.int64),
            "correct": unpack_bits(r["test_correct"]) if r.get("test_correct") else None,
            "throughput": r["throughput"], "execution_policy": r.get("execution_policy"),
            "model_info": r["model_info"], "device": r["provenance"]["device"],
            "eval_views": r.get("eval_views"), "wall_time_s": r.get("wall_time_s"),
            "path": os.path.relpath(path, results_dir),
        })
    return out
