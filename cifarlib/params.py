"""Run parameters: the one path from raw values (notebook, CLI ``-p``, plan file) to a run.

Every parameter a user can set is either a field of :class:`~cifarlib.engine.TrainConfig` or
one of :data:`RUN_FIELDS` (where the run is filed, and whether to redo it).
:func:`parse_run_parameters` is the only function that turns raw values into a run: it rejects
unknown names (suggesting the closest), checks each value's type against the dataclass, checks
values once (``TrainConfig.validate``) and returns a :class:`RunSpec`, all before any data is
loaded. ``notebooks/train.ipynb``'s parameters cell is generated from :func:`parameter_table`
by ``tools/make_train_notebook.py`` (a test keeps them in sync), so no field can be dropped.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import MISSING, dataclass, fields
from typing import Any

from .engine import TrainConfig, check_field_type

# Help text for every TrainConfig field (a test checks none is missing).
CONFIG_HELP: dict[str, str] = {
    "model": "a name from `python -m cifarlib models`",
    "model_kwargs": 'ablation switches, e.g. -y "model_kwargs: {attn_position: post_add}"',
    "dataset": "cifar100 | cifar10 | folder:PATH (dir or .zip of train/ and test/)",
    "data_root": "where cifar-100-python/ or cifar-10-batches-py/ live",
    "download": "auto | true | false: fetch CIFAR through torchvision when missing (auto: if online)",
    "train_subset": "0 means all training images (else a class-balanced subset)",
    "test_subset": "0 means all test images (the same images for every seed)",
    "val_split": "training images held out as a class-balanced validation set, the same for every seed "
                 "(a multiple of the class count; 0 means none)",
    "epochs": "passes over the training images",
    "batch_size": "global batch (split across processes under torchrun)",
    "eval_batch_size": "batch size for evaluation",
    "lr": "peak learning rate",
    "optimizer": "sgd | adamw",
    "momentum": "SGD momentum (AdamW: beta1)",
    "nesterov": "Nesterov momentum",
    "weight_decay": "on conv/linear weights only",
    "schedule": "onecycle | cosine",
    "warmup_fraction": "share of all steps spent warming up",
    "label_smoothing": "0 turns it off",
    "amp": "auto (fastest measured of fp32/bf16) | bf16 | fp16 | off",
    "channels_last": "auto (fastest measured) | on | off: NHWC memory format",
    "compile": "torch.compile the model",
    "compile_mode": "default | reduce-overhead (CUDA graphs) | max-autotune, when compile is on",
    "ema_decay": "0 turns the weight EMA off",
    "ema_every": "update the EMA every k steps (decay ema_decay**k); 1 is every step",
    "tta": "none | flip: score each test image by its and its mirror's mean logits",
    "cutout": "Cutout square side in pixels; 0 turns it off",
    "mixup": "mixup Beta alpha; 0 turns it off",
    "cutmix": "CutMix Beta alpha; 0 turns it off",
    "seed": "seeds init, batch order and augmentation",
    "device": "auto | cpu | cuda | cuda:N",
    "sync_bn": "under torchrun: BatchNorm statistics over the global batch",
    "eval_precision": "train (evaluate under the training autocast) | fp32",
    "checkpoint_every": "write the checkpoint every N epochs (always after the last)",
}

# Parameters that say where a run is filed and whether to redo it (not part of the config).
RUN_FIELDS: dict[str, tuple[type, Any, str]] = {
    "variant": (str, "default", "label of the switch setting, part of the run name"),
    "experiment": (str, "adhoc", "group of runs: results/<dataset>/<experiment>/"),
    "results_dir": (str, "results", "where records go (relative to the repository root)"),
    "checkpoint_dir": (str, "checkpoints", "where per-epoch checkpoints go"),
    "overwrite": (bool, False, "retrain and replace an existing record"),
    "restart": (bool, False, "discard an existing checkpoint and start afresh"),
    "tensorboard": (bool, False, "also log TensorBoard scalars per epoch (needs the tensorboard extra)"),
}


_NAME = re.compile(r"^[A-Za-z0-9_.]+$")


def check_name(label: str, value: str) -> None:
    """A variant or experiment name becomes a file or folder name: letters, digits, '_' and '.',
    and not only dots ('.' and '..' would name the folder itself or its parent)."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"bad value for {label}: {value!r}; allowed: letters, digits, '_' and '.'")
    if set(value) == {"."}:
        raise ValueError(f"bad value for {label}: {value!r}; a name made only of dots would file the "
                         "run outside its folder: use letters, digits, '_' and '.'")


@dataclass(frozen=True)
class RunSpec:
    """A validated run: its config and where and how it is filed."""

    config: TrainConfig
    experiment: str = "adhoc"
    variant: str = "default"
    results_dir: str = "results"
    checkpoint_dir: str = "checkpoints"
    overwrite: bool = False
    restart: bool = False
    tensorboard: bool = False  # TensorBoard scalars beside the record (cifarlib.run_logs)


def _config_types() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def config_defaults() -> dict[str, Any]:
    """Every ``TrainConfig`` field's default value."""
    return {f.name: f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            for f in fields(TrainConfig)}


def parameter_table() -> list[tuple[str, str, Any, str]]:
    """``(name, type name, default, help)`` for every parameter, config fields first."""
    hints = _config_types()
    rows = [(name, _type_name(hints[name]), default, CONFIG_HELP.get(name, ""))
            for name, default in config_defaults().items()]
    for name, (kind, default, text) in RUN_FIELDS.items():
        rows.append((name, kind.__name__, default, text))
    return rows


def parameter_names() -> list[str]:
    return [row[0] for row in parameter_table()]


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):  # ``bool | str``, spelt as papermill parses it
        return f"Union[{', '.join(a.__name__ for a in typing.get_args(hint))}]"
    origin = typing.get_origin(hint)
    return (origin or hint).__name__


# A number as text: YAML 1.1 reads ``1e-3`` (no dot) as a string.
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Forgiving conversions before the type check: an int for a float field, a number written
    as text for a float field (``-p lr 1e-3``, which YAML reads as a string), and YAML's
    ``off`` (read as ``False``) for ``amp``."""
    kind = typing.get_origin(hint) or hint
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    if kind is str and name == "amp" and value is False:
        return "off"
    if kind is dict and isinstance(value, dict):
        return dict(value)
    return value


def unknown_names_error(unknown: list[str], known: list[str]) -> ValueError:
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return ValueError(f"unknown parameter(s) {', '.join(hints)}; known: {', '.join(known)}")


def parse_run_parameters(values: dict[str, Any]) -> RunSpec:
    """Validate raw parameters once and return the run they define (nothing is loaded)."""
    known = parameter_names()
    unknown = [k for k in values if k not in known]
    if unknown:
        raise unknown_names_error(unknown, known)
    hints = _config_types()
    config_values = {k: _coerce(k, v, hints[k]) for k, v in values.items() if k in hints}
    run_values = {k: v for k, v in values.items() if k in RUN_FIELDS}
    for name, value in run_values.items():
        check_field_type(name, value, RUN_FIELDS[name][0])
    for name in ("experiment", "variant"):
        if name in run_values:
            check_name(name, run_values[name])
    config = TrainConfig(**config_values)
    config.validate()  # types and values of every field, before anything is loaded
    return RunSpec(config=config, **run_values)


def notebook_parameters(namespace: dict[str, Any], new_names: set[str]) -> dict[str, Any]:
    """The run parameters of a notebook kernel: every declared parameter's value, after
    refusing names that papermill injected but the notebook does not declare (papermill itself
    only warns about them, and the run would silently use the default).

    ``new_names`` are the globals defined by the parameters cell and papermill's injected cell.
    """
    declared = parameter_names()
    new = sorted(n for n in new_names if not n.startswith("_"))
    unknown = [n for n in new if n not in declared]
    if unknown:
        raise unknown_names_error(unknown, declared)
    return {n: namespace[n] for n in declared}
