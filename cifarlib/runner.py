"""One training run end to end: config -> engine -> run record on disk.

This is what ``notebooks/train.ipynb`` calls; the notebook only adds plots and tables. Paths:

* record:     ``<results_dir>/<dataset>/<experiment>/<run>.json``
* checkpoint: ``<checkpoint_dir>/<dataset>/<experiment>/<run>.pt`` (resumed when present)
* executed notebook (written by the sweep / ``python -m cifarlib train``):
  ``book/runs/<dataset>/<experiment>/<run>.ipynb``

where ``<run>`` is ``<model>-<variant>-s<seed>``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import TensorDataset, dataset_name, load_dataset, portable_spec, validation_indices
from . import distributed
from .distributed import is_main_process
from .engine import IMPLICIT_BEFORE_FIELD, TrainConfig, TrainResult, train
from .models import create_model, model_entry
from .params import RunSpec, check_name, config_defaults
from .paths import DEFAULT_CHECKPOINT_DIR, DEFAULT_RESULTS_DIR, DEFAULT_RUNS_DIR, portable_path, repo_path
from .profile import count_flops, count_parameters
from .run_logs import RunLogger, check_tensorboard, epoch_images, run_args
from .results import SCHEMA_VERSION, provenance, read_or_quarantine, write_record

def dataset_tag(spec: str, root: str | os.PathLike = "data") -> str:
    """Directory name for a data set's results: the name it gets when loaded
    (:func:`cifarlib.data.dataset_name`), with ``root`` relative to the repository root."""
    return dataset_name(spec, repo_path(root))


def run_name(model: str, variant: str, seed: int) -> str:
    check_name("variant", variant)
    return f"{model}-{variant}-s{seed}"


@dataclass(frozen=True)
class RunPaths:
    record: Path
    checkpoint: Path
    notebook: Path
    claim: Path  # the run's lock file (cifarlib.claims), beside the checkpoints


def run_paths(
    config: TrainConfig, experiment: str, variant: str = "default",
    results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR,
    checkpoint_dir: str | os.PathLike = DEFAULT_CHECKPOINT_DIR,
    runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
) -> RunPaths:
    """Where the record, checkpoint and executed notebook of a run live; each is proven to lie
    inside its root folder (:func:`inside_root`)."""
    check_name("experiment", experiment)
    rel = Path(dataset_tag(config.dataset, config.data_root)) / experiment
    name = run_name(config.model, variant, config.seed)
    return RunPaths(*(inside_root(Path(root) / rel / f"{name}{suffix}", root, parameter)
                      for root, suffix, parameter in ((results_dir, ".json", "results_dir"),
                                                      (checkpoint_dir, ".pt", "checkpoint_dir"),
                                                      (runs_dir, ".ipynb", "runs_dir"),
                                                      (Path(checkpoint_dir) / "claims", ".lock", "checkpoint_dir"))))


def inside_root(path: Path, root: str | os.PathLike, parameter: str) -> Path:
    """``path`` itself once proven to lie inside ``root`` with ``.``/``..`` resolved (lexically:
    a folder the user symlinked elsewhere stays allowed); ``ValueError`` naming the parameter."""
    resolved, top = (Path(os.path.normpath(os.path.abspath(p))) for p in (path, root))
    if top not in resolved.parents:
        raise ValueError(f"refusing to write {path}: it is not inside {parameter} {root}. The dataset, "
                         "experiment and variant names make up the path: use plain names (letters, "
                         "digits, '_' and '.', not only dots)")
    return path


# Config fields that do not change what a run computes: where the data lives and how it is
# fetched (the data fingerprint identifies the data) and which device ran it.
NOT_IDENTITY = ("dataset", "data_root", "download", "device", "checkpoint_every")


class RunConflictError(ValueError):
    """A record of the same name exists but was made by another config or other data."""


def config_identity(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sorted(config.items()) if k not in NOT_IDENTITY}


def config_hash(config: dict[str, Any]) -> str:
    """sha256 (16 hex digits) of the config's identity fields as canonical JSON."""
    text = json.dumps(config_identity(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_differences(record: dict[str, Any], config: dict[str, Any], data_fingerprint: str) -> list[str]:
    """What differs between an existing record and the run about to start (empty: the same run)."""
    old, new = normalized(config_identity(record["config"])), normalized(config_identity(config))
    # a field newer than the record matches when it holds the value the field implicitly had
    # before it existed (engine.IMPLICIT_BEFORE_FIELD: records before ``tta`` were scored without
    # it), else its default
    implicit = {**config_defaults(), **IMPLICIT_BEFORE_FIELD}
    diffs = [f"{k}: {old.get(k, '<absent>')!r} -> {new.get(k, '<absent>')!r}"
             for k in sorted(set(old) | set(new)) if old.get(k, _ABSENT) != new.get(k, _ABSENT)
             and not (k not in old and new.get(k) == implicit.get(k))]
    stored = record.get("data", {}).get("fingerprint")
    if stored is not None and stored != data_fingerprint:
        diffs.append(f"data fingerprint: {stored} -> {data_fingerprint} (other images under the same data set name)")
    return diffs


_ABSENT = object()


def normalized(identity: dict[str, Any]) -> dict[str, Any]:
    """``channels_last`` as TrainConfig reads it: records from before its ``auto`` mode hold
    the booleans True/False, which mean ``on``/``off``."""
    value = identity.get("channels_last")
    return {**identity, "channels_last": {True: "on", False: "off"}[value]} if isinstance(value, bool) else identity


def existing_record(path: Path, config: TrainConfig, data_fingerprint: str, log=print) -> dict[str, Any] | None:
    """The record at ``path`` if it is this very run; ``None`` if there is none (a corrupt one
    is moved aside to ``*.corrupt``); :class:`RunConflictError` if it is another run."""
    record = read_or_quarantine(path, log)
    if record is None:
        return None
    diffs = record_differences(record, asdict(config), data_fingerprint)
    if not diffs:
        return record
    raise RunConflictError(
        f"{path} holds a different run of the same name ({'; '.join(diffs)}). Nothing was trained. "
        "To keep both, give this run another -p variant NAME or -p experiment NAME; to replace the "
        "old record, add -p overwrite True")


def check_writable(*folders: Path) -> None:
    """Fail before training when an output folder cannot be written."""
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
                pass
        except OSError as err:
            raise PermissionError(f"cannot write to {folder} ({err.strerror}); fix its permissions or pass "
                                  "another folder (-p results_dir / -p checkpoint_dir)") from err


def pack_bits(correct: torch.Tensor) -> str:
    """Per-image correctness as base64 of packed bits (test-set order)."""
    return base64.b64encode(np.packbits(correct.numpy().astype(np.uint8)).tobytes()).decode()


def build_record(result: TrainResult, config: TrainConfig, experiment: str, variant: str,
                 dataset: str) -> dict[str, Any]:
    """The JSON run record for a finished training run."""
    entry = model_entry(config.model)
    config_dict = dict(result.config)
    config_dict["dataset"] = portable_spec(config.dataset)  # never an absolute machine path in a record
    config_dict["data_root"] = portable_path(repo_path(config.data_root))
    height = result.data_info.get("image_size", [32, 32])[0]
    final = result.final
    record = {
        "schema": SCHEMA_VERSION,
        "run": run_name(config.model, variant, config.seed),
        "experiment": experiment,
        "variant": variant,
        "dataset": dataset,
        "config": config_dict,
        "identity": {"config_hash": config_hash(config_dict),
                     "data_fingerprint": result.data_info.get("fingerprint")},
        "data": result.data_info,
        "history": result.history,
        "final": {"test_top1": final.top1, "test_top5": final.top5,
                  "test_loss": final.loss, "test_images": final.images},
        "eval_views": result.eval_views,
        "classes": result.classes,
        "per_class_accuracy": dict(zip(result.classes, final.per_class)),
        "confusion": final.confusion,
        "model_info": {"params": count_parameters(result.model),  # the trained model: no rebuild
                       "flops": count_flops(result.model, image_size=height,
                                            channels=result.data_info.get("channels", 3)),
                       "flops_image_size": height,
                       "family": entry.family, "method": entry.method},
        "throughput": {"train_images_per_s": result.train_images_per_s, "amp": result.amp_dtype,
                       "channels_last": result.execution_policy["channels_last"],
                       "processes": result.world_size, "warmup_steps": result.warmup_steps,
                       "warmup_seconds": result.warmup_seconds},
        "execution_policy": result.execution_policy,
        "wall_time_s": result.wall_time_s,
        "resumed_from_epoch": result.resumed_from_epoch,
        "provenance": provenance(result.device),
    }
    if final.correct is not None and len(final.correct) == final.images:
        record["test_correct"] = {"images": final.images, "bits": pack_bits(final.correct),
                                  "labels_sha": result.data_info.get("test_labels_sha")}
    if result.val_views:
        record["val"] = val_section(result)
    return record


def val_section(result: TrainResult) -> dict[str, Any]:
    """The record's ``val`` section: the validation hold-out (``val_split``) scored every way the
    test set is. ``top1``/``top5``/``loss`` are the reported view's (as ``final`` is for the test
    set), ``views`` the top-1 of every view (as ``eval_views``), and ``correct`` the per-image bits
    of the reported view (``bits``) and of every view (``views``), in hold-out order (the sorted
    training indices of ``data.val_split``), so paired statistics work as on ``test_correct``."""
    reported = result.val_final
    assert reported is not None  # val_views always holds the reported view
    return {
        "images": reported.images, "top1": reported.top1, "top5": reported.top5, "loss": reported.loss,
        "views": {name: r.top1 for name, r in result.val_views.items()},
        "correct": {"images": reported.images, "labels_sha": result.data_info.get("val_labels_sha"),
                    "bits": pack_bits(reported.correct),
                    "views": {name: pack_bits(r.correct) for name, r in result.val_views.items()}},
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
    restart: bool = False,
    log=print,
    tensorboard: bool = False,
) -> dict[str, Any]:
    """Train (or resume) one run and write its record; returns the record.

    Order: validate; check the output folders can be written; load the data; if a record of
    this name exists, return it only when config and data fingerprint match (else refuse, see
    :func:`existing_record`) unless ``overwrite``; train (resuming from the checkpoint unless
    ``restart``); write the record atomically. Nothing is written for a failed run but its logs
    so far (``<run>.args.yaml``, ``<run>.summary.csv``, TensorBoard: :mod:`cifarlib.run_logs`).
    """
    config.validate()
    paths = run_paths(config, experiment, variant, repo_path(results_dir), repo_path(checkpoint_dir))
    check_writable(paths.record.parent, paths.checkpoint.parent)
    if tensorboard:
        check_tensorboard()  # before any data is loaded
    create_model(config.model, num_classes=10, **config.model_kwargs)  # fail early on bad switches
    if data is None:
        data = load_dataset(config.dataset, repo_path(config.data_root), config.download)
    if config.val_split:  # a hold-out the data cannot give fails before anything is written
        validation_indices(data.train_y, config.val_split, data.num_classes)
    fingerprint = data.fingerprint
    if not overwrite:
        found = existing_record(paths.record, config, fingerprint, log=log)
        if found is not None:
            log(f"record exists for this config and data: {portable_path(paths.record)} (reused; "
                "-p overwrite True retrains)")
            return found
    if (overwrite or restart) and paths.checkpoint.exists():
        paths.checkpoint.unlink()
    logger = start_logs(paths.record, config, data, experiment=experiment, variant=variant,
                        results_dir=results_dir, checkpoint_dir=checkpoint_dir, overwrite=overwrite,
                        restart=restart, tensorboard=tensorboard)
    try:
        result = train(config, data=data, checkpoint=paths.checkpoint, progress=progress,
                       on_epoch=logger.epoch if logger is not None else None)
    finally:
        if logger is not None:
            logger.close()
    record = build_record(result, config, experiment, variant,
                          dataset_tag(config.dataset, config.data_root))
    if is_main_process():  # under torchrun, rank 0 alone writes
        write_record(record, paths.record)
        if logger is not None:
            logger.finish(record["history"])
    return record


def start_logs(record: Path, config: TrainConfig, data: TensorDataset, **run_fields: Any) -> RunLogger | None:
    """The run's logs beside its record (rank 0 only): args.yaml now, summary.csv and
    TensorBoard per epoch (:class:`cifarlib.run_logs.RunLogger`)."""
    if not is_main_process():
        return None
    config_dict = asdict(config)
    config_dict["dataset"] = portable_spec(config.dataset)
    config_dict["data_root"] = portable_path(repo_path(config.data_root))
    available = len(data.train_y) - config.val_split  # the hold-out is never trained on
    train_images = min(config.train_subset or available, available)
    logger = RunLogger(record, bool(run_fields.get("tensorboard")), epoch_images(train_images, config.batch_size))
    logger.start(run_args(config_dict, **run_fields))
    return logger


def run_spec(spec: "RunSpec", progress: bool = True, log=print) -> dict[str, Any]:
    """Train the run a :class:`~cifarlib.params.RunSpec` describes (what the notebook calls).
    Under torchrun the process group is destroyed afterwards, whether the run succeeded or not."""
    try:
        return run_training(spec.config, spec.experiment, spec.variant, spec.results_dir, spec.checkpoint_dir,
                            overwrite=spec.overwrite, progress=progress, restart=spec.restart, log=log,
                            tensorboard=spec.tensorboard)
    finally:
        distributed.cleanup(distributed.env_from_os())
