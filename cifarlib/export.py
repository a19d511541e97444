"""Export a finished run's trained weights: ``python -m cifarlib export RUN_RECORD [--onnx]``.

A run's checkpoint (``checkpoints/<dataset>/<experiment>/<run>.pt``, never committed) holds the
optimizer's state too; an export keeps the weights alone:

* ``<out>/<run>.pth``: the fp32 state dict of the weights the record scored (the EMA when the run
  kept one), loadable with ``torch.load(path, weights_only=True)`` into
  ``create_model(model, num_classes, **model_kwargs)``, or through ``hubconf.py``;
* ``<out>/<run>.meta.json``: what the weights are: the record's identity (config hash, data
  fingerprint), model and switches, the data set they were trained on (classes, mean/std),
  its test metrics and the weights' sha256;
* with ``--onnx``: ``<out>/<run>.onnx`` (needs the ``onnx`` package).

``<out>`` defaults to ``exports/<dataset>/<experiment>/``, outside ``results/`` so that the
metadata JSON is never read as a run record. The checkpoint is checked against the record
(the same config hash, every epoch finished, the same final history row), so an export
never pairs a record with another run's weights.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from .models import create_model
from .paths import DEFAULT_CHECKPOINT_DIR, REPO_ROOT, atomic_write, repo_path
from .profile import count_parameters
from .results import read_record
from .runner import config_hash

EXPORT_FORMAT = "cifarlib-weights/1"
DEFAULT_EXPORT_DIR = REPO_ROOT / "exports"


class ExportError(ValueError):
    """The run cannot be exported; the message names the file and the fix."""


def checkpoint_path(record: dict[str, Any], checkpoint_dir: str | os.PathLike = DEFAULT_CHECKPOINT_DIR) -> Path:
    """The checkpoint a record's run left (the layout of :func:`cifarlib.runner.run_paths`)."""
    return repo_path(checkpoint_dir) / record["dataset"] / record["experiment"] / f"{record['run']}.pt"


def trained_weights(record: dict[str, Any], checkpoint: Path) -> tuple[dict[str, torch.Tensor], bool]:
    """The scored weights from ``checkpoint`` as an fp32 state dict, and whether they are the EMA;
    :class:`ExportError` when the checkpoint is missing, unreadable or another run's."""
    if not checkpoint.exists():
        raise ExportError(
            f"no checkpoint at {checkpoint}: the weights of {record['run']} exist only in the checkpoint "
            "its training left on the machine that ran it (checkpoints are not committed). Export there, "
            "or pass --checkpoint-dir to where the checkpoints are")
    try:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ExportError(f"checkpoint {checkpoint} cannot be read ({type(err).__name__}: {err})") from err
    stored = json.loads(saved["fingerprint"])
    if config_hash(stored) != record["identity"]["config_hash"]:
        raise ExportError(f"checkpoint {checkpoint} was written by another config than the record's "
                          f"({config_hash(stored)} != {record['identity']['config_hash']}): not this run's weights")
    if saved["epoch"] != record["config"]["epochs"] or saved["history"][-1] != record["history"][-1]:
        raise ExportError(f"checkpoint {checkpoint} holds epoch {saved['epoch']} of {record['config']['epochs']}, "
                          "not the finished run of the record; finish the run (run it again) and export then")
    ema = saved.get("ema") is not None
    state = saved["ema"] if ema else saved["model"]
    fp32 = {k: (v.float() if v.is_floating_point() else v).contiguous().clone() for k, v in state.items()}
    return fp32, ema


def export_metadata(record: dict[str, Any], weights_file: str, weights_sha256: str, ema: bool) -> dict[str, Any]:
    data = record.get("data", {})
    return {
        "format": EXPORT_FORMAT,
        "run": record["run"], "experiment": record["experiment"], "variant": record.get("variant"),
        "model": record["config"]["model"], "model_kwargs": record["config"].get("model_kwargs", {}),
        "num_classes": len(record["classes"]),
        "trained_on": {"dataset": record["dataset"], "spec": record["config"]["dataset"],
                       "classes": record["classes"], "mean": data.get("mean"), "std": data.get("std"),
                       "image_size": data.get("image_size"), "train_images": data.get("train_images"),
                       **{k: data[k] for k in ("zip_sha256", "zip_is_reference") if k in data}},
        "identity": record["identity"],
        "metrics": {**record["final"], "eval_views": record.get("eval_views", {})},
        "epochs": record["config"]["epochs"],
        "params": record["model_info"]["params"],
        "weights": {"file": weights_file, "sha256": weights_sha256, "dtype": "float32", "ema": ema},
        "provenance": {k: v for k, v in record.get("provenance", {}).items() if k.startswith("git_") or k == "torch"},
    }


def export_run(record_path: str | os.PathLike, out_dir: str | os.PathLike | None = None,
               checkpoint_dir: str | os.PathLike = DEFAULT_CHECKPOINT_DIR, onnx: bool = False,
               log=print) -> dict[str, Path]:
    """Write the weights, metadata (and ONNX) of the run whose record is ``record_path``."""
    record = read_record(record_path)
    weights, ema = trained_weights(record, checkpoint_path(record, checkpoint_dir))
    model = create_model(record["config"]["model"], num_classes=len(record["classes"]),
                         **record["config"].get("model_kwargs", {}))
    model.load_state_dict(weights)  # strict: every key of the architecture, nothing else
    if count_parameters(model) != record["model_info"]["params"]:
        raise ExportError(f"the rebuilt {record['config']['model']} has {count_parameters(model)} parameters, "
                          f"the record says {record['model_info']['params']}: the model code changed since the run")
    out = Path(out_dir) if out_dir is not None else DEFAULT_EXPORT_DIR / record["dataset"] / record["experiment"]
    paths = {"weights": out / f"{record['run']}.pth", "meta": out / f"{record['run']}.meta.json"}
    atomic_write(paths["weights"], lambda tmp: torch.save(weights, tmp))
    digest = hashlib.sha256(paths["weights"].read_bytes()).hexdigest()
    meta = export_metadata(record, paths["weights"].name, digest, ema)
    atomic_write(paths["meta"], lambda tmp: tmp.write_text(json.dumps(meta, indent=1) + "\n"))
    if onnx:
        paths["onnx"] = out / f"{record['run']}.onnx"
        export_onnx(model, tuple(meta["trained_on"]["image_size"] or (32, 32)), paths["onnx"])
    for kind, path in paths.items():
        log(f"{kind:8s} {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return paths


def export_onnx(model: torch.nn.Module, image_size: tuple[int, int], path: Path) -> None:
    """The model in eval mode as ONNX, batch size dynamic; needs the ``onnx`` package."""
    try:
        import onnx  # noqa: F401
    except ImportError as err:
        raise RuntimeError("--onnx needs the onnx package: pip install 'cifarlib[onnx]' (or pip install onnx)") from err
    import warnings

    example = torch.zeros(1, 3, *image_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter needs onnx alone
        atomic_write(path, lambda tmp: torch.onnx.export(
            model.eval(), (example,), str(tmp), input_names=["images"], output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False))
