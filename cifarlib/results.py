"""Run records: one JSON file per training run, written atomically, loaded as DataFrames.

A record holds the full config, per-epoch history, final top-1/top-5/loss, per-class accuracy,
the model's parameter count and FLOPs, training throughput, wall time and provenance (git
revision and dirty flag, python/torch/torchvision/timm versions, device, date). Records live at
``results/<dataset>/<experiment>/<run>.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Callable, TypeVar

import pandas as pd

from .paths import DEFAULT_RESULTS_DIR, REPO_ROOT, atomic_write

SCHEMA_VERSION = 1

REQUIRED_KEYS = ("schema", "run", "experiment", "dataset", "config", "data", "history", "final",
                 "per_class_accuracy", "model_info", "throughput", "wall_time_s", "provenance")
# The fields of each section that the loaders below read: a record without one is refused on read.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "config": ("model", "seed", "epochs", "batch_size"),
    "data": ("name", "num_classes", "train_images", "test_images"),
    "final": ("test_top1", "test_top5", "test_loss"),
    "model_info": ("params", "flops"),
    "throughput": ("train_images_per_s",),
    "provenance": ("device", "date", "git_commit"),
}
PERCENT_METRICS = ("test_top1", "test_top5")  # finite and in [0, 100]
CLASS_COUNTS = {"cifar100": 100, "cifar10": 10}  # the real data sets' number of classes


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


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate_record(record: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming missing keys or inconsistent fields: every required section
    and the fields the loaders read are present, metrics are finite (top-1/top-5 and per-class
    accuracies in [0, 100], a class without test images ``None``), and the data set's name and
    class count agree with the record's ``dataset``."""
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise ValueError(f"run record lacks keys {missing}")
    if record["schema"] != SCHEMA_VERSION:
        raise ValueError(f"run record schema {record['schema']} != {SCHEMA_VERSION}")
    for section, keys in REQUIRED_FIELDS.items():
        if not isinstance(record[section], dict):
            raise ValueError(f"section {section!r} is not a mapping")
        lacking = [k for k in keys if k not in record[section]]
        if lacking:
            raise ValueError(f"section {section!r} lacks {lacking}" if section != "final"
                             else f"final metrics lack {', '.join(lacking)}")
    if len(record["history"]) != record["config"]["epochs"]:
        raise ValueError(f"history has {len(record['history'])} epochs, config says {record['config']['epochs']}")
    final = record["final"]
    for key in PERCENT_METRICS:
        if not (_finite(final[key]) and 0 <= final[key] <= 100):
            raise ValueError(f"final {key} is {final[key]!r}, not a finite percentage in [0, 100]")
    if not (_finite(final["test_loss"]) and final["test_loss"] >= 0):
        raise ValueError(f"final test_loss is {final['test_loss']!r}, not a finite number >= 0")
    per_class = record["per_class_accuracy"]
    if not isinstance(per_class, dict):
        raise ValueError("per_class_accuracy is not a mapping")
    bad = [c for c, v in per_class.items() if v is not None and not (_finite(v) and 0 <= v <= 100)]
    if bad:
        raise ValueError(f"per_class_accuracy of {bad[:3]} is not a percentage in [0, 100] (or null)")
    if "val" in record:
        validate_val(record["val"])
    dataset, data = record["dataset"], record["data"]
    if data["name"] != dataset:
        raise ValueError(f"the record is filed under dataset {dataset!r} but its data is {data['name']!r}")
    expected = CLASS_COUNTS.get(dataset, data["num_classes"])
    if not data["num_classes"] == len(per_class) == expected:
        raise ValueError(f"dataset {dataset!r} has {expected} classes, but the record's data has "
                         f"{data['num_classes']} and its per-class accuracy {len(per_class)}")


def validate_val(val: Any) -> None:
    """The optional ``val`` section (a run with ``val_split``): the hold-out's image count, the
    reported view's top-1/top-5 and every view's top-1 as finite percentages, and per-image bits."""
    if not isinstance(val, dict):
        raise ValueError("section 'val' is not a mapping")
    lacking = [k for k in ("images", "top1", "top5", "loss", "views", "correct") if k not in val]
    if lacking:
        raise ValueError(f"section 'val' lacks {lacking}")
    if not (isinstance(val["images"], int) and val["images"] > 0):
        raise ValueError(f"val images is {val['images']!r}, not a positive integer")
    if not isinstance(val["views"], dict) or not val["views"]:
        raise ValueError("val views is not a non-empty mapping of view -> top-1")
    for name, value in {"top1": val["top1"], "top5": val["top5"],
                        **{f"views[{k!r}]": v for k, v in val["views"].items()}}.items():
        if not (_finite(value) and 0 <= value <= 100):
            raise ValueError(f"val {name} is {value!r}, not a finite percentage in [0, 100]")


def write_record(record: dict[str, Any], path: str | os.PathLike) -> Path:
    """Validate and write ``record`` as JSON atomically (temporary file + rename)."""
    validate_record(record)
    text = json.dumps(record, indent=1, ensure_ascii=False, allow_nan=True) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def check_location(record: dict[str, Any], path: Path, results_dir: str | os.PathLike) -> None:
    """Raise ``ValueError`` unless ``path`` is ``<results_dir>/<dataset>/<experiment>/<run>.json``
    of the record's own dataset, experiment and run (a CIFAR-10 record in the CIFAR-100 folder,
    or a copy under another name, would be counted as another run)."""
    expected = (record["dataset"], record["experiment"], f"{record['run']}.json")
    where = Path(os.path.relpath(path, results_dir)).parts
    if where != expected:
        raise ValueError(f"it belongs at {'/'.join(expected)} under the results folder, not at {'/'.join(where)}")


def read_record(path: str | os.PathLike, results_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load and validate one record (:func:`validate_record`; with ``results_dir``, also that it
    is filed under its own dataset, experiment and run, :func:`check_location`);
    :class:`RecordError` names the file, why, and the fix."""
    try:
        record = json.loads(Path(path).read_text())
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        validate_record(record)
        if results_dir is not None:
            check_location(record, Path(path), results_dir)
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
    try:  # a run's record lives at <results_dir>/<dataset>/<experiment>/<run>.json
        return read_record(path, path.parents[2] if len(path.parents) > 2 else None)
    except RecordError as err:
        aside = quarantine_record(path)
        log(f"warning: {err.args[0].split(';')[0]}; moved it aside to {aside.name}; its run is trained again")
        return None


def record_paths(results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR) -> list[Path]:
    """Every record file (``*.json``; temporary and ``*.corrupt`` files are not records)."""
    return sorted(p for p in Path(results_dir).rglob("*.json") if not p.name.startswith("."))


_T = TypeVar("_T")


def each_record(results_dir: str | os.PathLike, build: Callable[[Path, dict[str, Any]], _T]) -> list[_T]:
    """``build(path, record)`` for every record under ``results_dir``, each read and validated
    with :func:`read_record` (filed where it belongs); a record that still lacks something
    ``build`` reads raises :class:`RecordError` naming it, never a bare ``KeyError``."""
    out = []
    for path in record_paths(results_dir):
        record = read_record(path, results_dir)
        try:
            out.append(build(path, record))
        except (KeyError, TypeError, ValueError) as err:
            raise RecordError(f"run record {path} lacks or garbles {err} ({type(err).__name__}); delete "
                              "it (or move it aside) and rerun its run") from err
    return out


def load_runs(results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR) -> pd.DataFrame:
    """One row per run record under ``results_dir``: identifiers, budget and final metrics."""
    def row(path: Path, r: dict[str, Any]) -> dict[str, Any]:
        cfg = r["config"]
        return {
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
        }
    runs = pd.DataFrame(each_record(results_dir, row))
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
    def frame(path: Path, r: dict[str, Any]) -> pd.DataFrame:
        h = pd.DataFrame(r["history"])
        h.insert(0, "dataset", r["dataset"])
        h.insert(1, "experiment", r["experiment"])
        h.insert(2, "run", r["run"])
        h.insert(3, "model", r["config"]["model"])
        h.insert(4, "variant", r.get("variant", "default"))
        h.insert(5, "seed", r["config"]["seed"])
        return h
    frames = each_record(results_dir, frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_per_class(results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR) -> pd.DataFrame:
    """Long table: one row per (run, class) with its test accuracy in percent."""
    def rows(path: Path, r: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"dataset": r["dataset"], "experiment": r["experiment"], "run": r["run"],
                 "model": r["config"]["model"], "seed": r["config"]["seed"],
                 "class": cls, "accuracy": math.nan if acc is None else acc}
                for cls, acc in r["per_class_accuracy"].items()]
    return pd.DataFrame([row for per_run in each_record(results_dir, rows) for row in per_run])


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
    ``model_info``, ``device``, ``eval_views``, ``wall_time_s`` and ``val`` (the record's validation
    section, runs with ``val_split`` only). Older records without a field get ``None`` for it.
    """
    import numpy as np

    def details(path: Path, r: dict[str, Any]) -> dict[str, Any]:
        confusion = r.get("confusion")
        return {
            "dataset": r["dataset"], "experiment": r["experiment"], "model": r["config"]["model"],
            "variant": r.get("variant", "default"), "seed": r["config"]["seed"],
            "classes": r.get("classes") or list(r["per_class_accuracy"]),
            "confusion": None if confusion is None else np.asarray(confusion, dtype=np.int64),
            "correct": unpack_bits(r["test_correct"]) if r.get("test_correct") else None,
            "throughput": r["throughput"], "execution_policy": r.get("execution_policy"),
            "model_info": r["model_info"], "device": r["provenance"]["device"],
            "eval_views": r.get("eval_views"), "wall_time_s": r.get("wall_time_s"), "val": r.get("val"),
            "path": os.path.relpath(path, results_dir),
        }
    return each_record(results_dir, details)
