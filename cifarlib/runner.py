"""One training run end to end: config -> engine -> run record on disk.

This is what ``notebooks/train.ipynb`` calls; the notebook only adds plots and tables. Paths:

* record:     ``<results_dir>/<dataset>/<experiment>/<run>.json``
* checkpoint: ``<checkpoint_dir>/<dataset>/<experiment>/<run>.pt`` (resumed when present)
* executed notebook (written by the sweep / ``python -m cifarlib train``):
  ``book/runs/<dataset>/<experiment>/<run>.ipynb``

where ``<run>`` is ``<model>-<variant>-s<seed>``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .distributed import is_main_process
from .data import GENERATED_MARKER, TensorDataset, load_dataset
from .engine import TrainConfig, TrainResult, train
from .models import create_model, model_entry
from .profile import count_flops, count_parameters
from .results import DEFAULT_RESULTS_DIR, REPO_ROOT, SCHEMA_VERSION, provenance, read_record, write_record

DEFAULT_CHECKPOINT_DIR = REPO_ROOT / "checkpoints"
DEFAULT_RUNS_DIR = REPO_ROOT / "book" / "runs"
_NAME = re.compile(r"^[A-Za-z0-9_.]+$")


def dataset_tag(spec: str, root: str | os.PathLike = "data") -> str:
    """Directory name for a data set's results: ``cifar100``, ``cifar100-generated``,
    ``cifar10`` or a folder/zip's stem (``cifar10-jpeg``)."""
    if spec in ("cifar100", "cifar10"):
        folder = "cifar-100-python" if spec == "cifar100" else "cifar-10-batches-py"
        return f"{spec}-generated" if (Path(root) / folder / GENERATED_MARKER).exists() else spec
    if spec.startswith("folder:"):
        return Path(spec[len("folder:"):]).stem
    raise ValueError(f"unknown dataset {spec!r}: use 'cifar100', 'cifar10' or 'folder:PATH'")


def run_name(model: str, variant: str, seed: int) -> str:
    for label, value in (("variant", variant),):
        if not _NAME.match(value):
            raise ValueError(f"bad value for {label}: {value!r}; allowed: letters, digits, '_' and '.'")
    return f"{model}-{variant}-s{seed}"


@dataclass(frozen=True)
class RunPaths:
    record: Path
    checkpoint: Path
    notebook: Path


def run_paths(
    config: TrainConfig, experiment: str, variant: str = "default",
    results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR,
    checkpoint_dir: str | os.PathLike = DEFAULT_CHECKPOINT_DIR,
    runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
) -> RunPaths:
    """Where the record, checkpoint and executed notebook of a run live."""
    if not _NAME.match(experiment):
        raise ValueError(f"bad value for experiment: {experiment!r}; allowed: letters, digits, '_' and '.'")
    rel = Path(dataset_tag(config.dataset, config.data_root)) / experiment
    name = run_name(config.model, variant, config.seed)
    return RunPaths(Path(results_dir) / rel / f"{name}.json",
                    Path(checkpoint_dir) / rel / f"{name}.pt",
                    Path(runs_dir) / rel / f"{name}.ipynb")


def build_record(result: TrainResult, config: TrainConfig, experiment: str, variant: str,
                 dataset: str) -> dict[str, Any]:
    """The JSON run record for a finished training run."""
    entry = model_entry(config.model)
    fresh = create_model(config.model, num_classes=len(result.classes), **config.model_kwargs)
    return {
        "schema": SCHEMA_VERSION,
        "run": run_name(config.model, variant, config.seed),
        "experiment": experiment,
        "variant": variant,
        "dataset": dataset,
        "config": result.config,
        "data": result.data_info,
        "history": result.history,
        "final": {"test_top1": result.final.top1, "test_top5": result.final.top5,
                  "test_loss": result.final.loss, "test_images": result.final.images},
        "classes": result.classes,
        "per_class_accuracy": dict(zip(result.classes, result.final.per_class)),
        "model_info": {"params": count_parameters(fresh), "flops": count_flops(fresh),
                       "family": entry.family, "method": entry.method},
        "throughput": {"train_images_per_s": result.train_images_per_s, "amp": result.amp_dtype,
                       "channels_last": config.channels_last, "processes": result.world_size},
        "wall_time_s": result.wall_time_s,
        "resumed_from_epoch": result.resumed_from_epoch,
        "provenance": provenance(result.device),
    }


def run_training(
    config: TrainConfig,
    experiment: str = "adhoc",
    variant: str = "default",
    results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR,
    checkpoint_dir: str | os.PathLike = DEFAULT_CHECKPOINT_DIR,
    overwrite: bool = False,
    data: TensorDataset | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or resume) one run and write its record; returns the record.

    An existing record is returned as is unless ``overwrite``. Bad parameters, unknown models
    and missing data fail before anything is written.
    """
    config.validate()
    paths = run_paths(config, experiment, variant, results_dir, checkpoint_dir)
    if paths.record.exists() and not overwrite:
        return read_record(paths.record)
    if overwrite and paths.checkpoint.exists():
        paths.checkpoint.unlink()
    create_model(config.model, num_classes=10, **config.model_kwargs)  # fail early on bad switches
    if data is None:
        data = load_dataset(config.dataset, config.data_root, config.download)
    result = train(config, data=data, checkpoint=paths.checkpoint, progress=progress)
    record = build_record(result, config, experiment, variant,
                          dataset_tag(config.dataset, config.data_root))
    if is_main_process():  # under torchrun, rank 0 alone writes
        write_record(record, paths.record)
    return record
