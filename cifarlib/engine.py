"""The training engine: SGD-Nesterov or AdamW, one-cycle/cosine schedules, label smoothing,
Cutout/mixup/CutMix (:mod:`cifarlib.augment`), AMP, channels_last, optional torch.compile and
weight EMA, top-1/top-5 evaluation, per-epoch checkpoints and exact resume.

Laid out as torchvision's ``references/classification/train.py``: :func:`train_one_epoch`,
:func:`evaluate`, :func:`checkpoint_state` / :func:`restore_checkpoint`, and a short
:func:`train` that sets up the run (:func:`build_parts`), loops over epochs and assembles the
:class:`TrainResult`. Devices and AMP dtypes come from :mod:`cifarlib.devices`; the precision
and memory format a run uses are measured by :mod:`cifarlib.autotune`.

Exactness: the batch order and augmentation of epoch ``e`` come from a generator seeded by
``(seed, e)`` (see :class:`cifarlib.data.BatchLoader`); the checkpoint written after every epoch
holds model, optimizer, scheduler, scaler, EMA, history and the global RNG state, so a run
interrupted and resumed ends with the same weights and metrics as one that never stopped.

The inner loop keeps losses and correct counts as device tensors; the host syncs once per
epoch and every ``log_every`` steps for the progress bar.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import pickle
import re
import time
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from . import autotune, distributed
from .augment import cutout, mix_batch
from .data import BatchLoader, TensorDataset, load_dataset
from .download import check_download_mode
from .devices import FP16_NEEDS_CUDA, autocast_context, device_name, dtype_label, resolve_amp, resolve_device, synchronize
from .models import create_model, model_entry
from .paths import atomic_write

SCHEDULES = ("onecycle", "cosine")
OPTIMIZERS = ("sgd", "adamw")
AMP_MODES = ("auto", "bf16", "fp16", "off")
TTA_MODES = ("none", "flip")
MEMORY_FORMATS = ("auto", "on", "off")
DEVICES = ("auto", "cpu", "cuda")
EVAL_PRECISIONS = ("train", "fp32")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
SEED_LIMIT = 2**32  # seeds torch and numpy generators; seed * 100_003 + epoch must fit in 64 bits
WARMUP_STEPS = 3  # steps of a process's first epoch left out of the steady images/s


@dataclass
class TrainConfig:
    """Everything that defines a training run (the record stores it verbatim)."""

    model: str = "resnet20"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    dataset: str = "cifar100"
    data_root: str = "data"
    download: bool | str = "auto"  # true | false | auto: fetch CIFAR when missing and online
    train_subset: int = 0  # 0 = the whole training split
    test_subset: int = 0
    # training images held out as a class-balanced validation set, the same for every seed (data.VAL_SPLIT_SEED)
    val_split: int = 0  # 0 = none; the record's "val" section scores it as the test set is scored
    epochs: int = 30
    batch_size: int = 128  # 64 did not survive Holm over the recipe family (report.recipe_decision, the setup page)
    eval_batch_size: int = 500
    lr: float = 0.1  # peak learning rate
    optimizer: str = "sgd"  # sgd (momentum, nesterov) | adamw (decoupled weight decay)
    momentum: float = 0.9  # SGD's momentum; AdamW's beta1
    nesterov: bool = True
    weight_decay: float = 5e-4  # not applied to norms and biases
    schedule: str = "onecycle"
    warmup_fraction: float = 0.15  # share of all steps spent warming up / rising (one-cycle)
    label_smoothing: float = 0.1
    amp: str = "auto"
    channels_last: str = "auto"  # auto (measured) | on | off; True/False are read as on/off
    compile: bool = False
    compile_mode: str = "default"  # torch.compile's mode when compile is on; reduce-overhead = CUDA graphs
    ema_decay: float = 0.0  # 0 = off; e.g. 0.999 evaluates an EMA of the weights
    ema_every: int = 1  # update the EMA every k optimizer steps (with decay ema_decay**k); 1 = every step
    tta: str = "flip"  # none | flip: average the logits of each test image and its mirror image
    # (flip survives Holm over the recipe family: report.recipe_decision, the setup page)
    cutout: int = 0  # side of the Cutout square in pixels; 0 = off
    mixup: float = 0.0  # mixup's Beta(alpha, alpha); 0 = off
    cutmix: float = 0.0  # CutMix's Beta(alpha, alpha); 0 = off (with mixup too: one of them per batch)
    seed: int = 0
    device: str = "auto"
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch
    eval_precision: str = "train"  # train: evaluate under the training autocast (as before) | fp32
    checkpoint_every: int = 1  # write the checkpoint every N epochs (and always after the last)

    def __post_init__(self) -> None:
        if isinstance(self.channels_last, bool):
            self.channels_last = "on" if self.channels_last else "off"

    def validate(self) -> None:
        """Raise ``ValueError`` naming the parameter and its allowed values."""
        model_entry(self.model)  # KeyError listing valid names
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            check_field_type(f.name, getattr(self, f.name), hints[f.name])
        checks = [
            ("schedule", self.schedule in SCHEDULES, f"one of {SCHEDULES}"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {OPTIMIZERS}"),
            ("cutout", self.cutout >= 0, "an integer >= 0 (0 = off)"),
            ("mixup", self.mixup >= 0, ">= 0 (0 = off)"),
            ("cutmix", self.cutmix >= 0, ">= 0 (0 = off)"),
            ("amp", self.amp in AMP_MODES, f"one of {AMP_MODES}"),
            ("channels_last", self.channels_last in MEMORY_FORMATS, f"one of {MEMORY_FORMATS} (or true/false)"),
            ("device", self.device in DEVICES or re.fullmatch(r"cuda:\d+", self.device) is not None,
             f"one of {DEVICES} or 'cuda:N' (N a GPU index)"),
            ("seed", 0 <= self.seed < SEED_LIMIT, "an integer in [0, 2**32)"),
            ("epochs", isinstance(self.epochs, int) and self.epochs >= 1, "an integer >= 1"),
            ("batch_size", isinstance(self.batch_size, int) and self.batch_size >= 1, "an integer >= 1"),
            ("eval_batch_size", self.eval_batch_size >= 1, "an integer >= 1"),
            ("lr", self.lr > 0, "a positive number"),
            ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("warmup_fraction", 0 <= self.warmup_fraction < 1, "in [0, 1)"),
            ("label_smoothing", 0 <= self.label_smoothing < 1, "in [0, 1)"),
            ("ema_decay", 0 <= self.ema_decay < 1, "in [0, 1) (0 = off)"),
            ("ema_every", self.ema_every >= 1, "an integer >= 1 (1 = every step)"),
            ("checkpoint_every", self.checkpoint_every >= 1, "an integer >= 1 (1 = every epoch)"),
            ("tta", self.tta in TTA_MODES, f"one of {TTA_MODES}"),
            ("compile_mode", self.compile_mode in COMPILE_MODES, f"one of {COMPILE_MODES}"),
            ("eval_precision", self.eval_precision in EVAL_PRECISIONS, f"one of {EVAL_PRECISIONS}"),
            ("train_subset", self.train_subset >= 0, ">= 0 (0 = all)"),
            ("test_subset", self.test_subset >= 0, ">= 0 (0 = all)"),
            ("val_split", self.val_split >= 0,
             "an integer >= 0: training images held out for validation, a multiple of the class count (0 = none)"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f"bad value for {name}: {getattr(self, name)!r}; allowed: {allowed}")
        check_download_mode(self.download)
        if self.amp == "fp16" and not self.device.startswith("cuda") and self.device != "auto":
            raise ValueError(FP16_NEEDS_CUDA)



def check_field_type(name: str, value: Any, hint: Any) -> None:
    """Raise ``ValueError`` naming the parameter when ``value`` is not of the field's type
    (an int is accepted for a float; a bool is never an int; floats must be finite)."""
    kind = typing.get_origin(hint) or hint
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            raise ValueError(f"bad value for {name}: {value!r}; allowed: a finite number")
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in (bool, str, dict):
        ok = isinstance(value, kind)
    else:
        ok = True
    if not ok:
        hint_text = " (YAML reads on/off/yes/no as booleans: quote it)" if isinstance(value, bool) and kind is str else ""
        wanted = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
                  dict: "a mapping"}.get(kind, kind.__name__)
        raise ValueError(f"bad value for {name}: {value!r} ({type(value).__name__}); "
                         f"allowed: {wanted}{hint_text}")


# --------------------------------------------------------------------------- optimisation


DECAYED_MODULES: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def decayed_parameter_names(model: nn.Module) -> list[str]:
    """Names of the parameters that get weight decay: the ``weight`` of conv and linear layers.

    Selected by module type and name, not by shape: biases, norm affine parameters (BN, LN,
    GroupNorm), layer scales / gammas (``(C,)`` or ``(C,1,1)``) and position tables (CoAtNet's
    relative-position bias, any ``*pos*`` parameter) are never decayed, whatever their rank.
    """
    names = []
    for module_name, module in model.named_modules():
        if isinstance(module, DECAYED_MODULES) and isinstance(getattr(module, "weight", None), nn.Parameter):
            if module.weight.requires_grad:
                names.append(f"{module_name}.weight" if module_name else "weight")
    return names


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two optimizer groups: ``weight_decay`` on conv/linear weights
    (:func:`decayed_parameter_names`), none on biases, norms, layer scales and position tables."""
    decayed = set(decayed_parameter_names(model))
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if name in decayed else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """SGD with (Nesterov) momentum, or AdamW (decoupled weight decay, betas
    ``(momentum, 0.999)``), over :func:`param_groups` (no decay on norms, biases, scales);
    fused on CUDA."""
    groups = param_groups(model, config.weight_decay)
    # On a GPU the fused kernels take GradScaler's inf check on the device (no host sync per step)
    # and launch far fewer kernels; the CPU keeps torch's default implementation.
    fused = {"fused": True} if all(p.is_cuda for p in model.parameters()) else {}
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=(config.momentum, 0.999), **fused)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov, **fused)


def augmentation_generator(config: TrainConfig, epoch: int, device: torch.device) -> torch.Generator | None:
    """The generator of the batch-level augmentations for ``epoch`` (seeded from the run's seed
    and the epoch, so a resumed run draws the same); None when Cutout, mixup and CutMix are off."""
    if not (config.cutout or config.mixup or config.cutmix):
        return None
    return torch.Generator(device=device).manual_seed(config.seed * 100_003 + epoch)


def scalar_generator(config: TrainConfig, epoch: int, device: torch.device) -> torch.Generator | None:
    """The CPU generator of mixup's and CutMix's per-batch scalars on a GPU, seeded as
    :func:`augmentation_generator` (so resumes draw the same); None on the CPU, where the
    augmentation generator draws them itself (exactly as before the split) without a sync."""
    if device.type == "cpu" or not (config.mixup or config.cutmix):
        return None
    return torch.Generator().manual_seed(config.seed * 100_003 + epoch)


def lr_lambda(schedule: str, total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Multiplier of the peak learning rate at step ``s``.

    * ``onecycle``: linear rise from 0.1x to 1x over the warm-up, then linear decay to 0
      (the triangular one-cycle of Smith & Topin, as used by CIFAR speedruns);
    * ``cosine``: linear warm-up from 0.1x, then half-cosine decay to 0 (SGDR without restarts).
    """
    def onecycle(step: int) -> float:
        if step < warmup_steps:
            return 0.1 + 0.9 * step / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    def cosine(step: int) -> float:
        if step < warmup_steps:
            return 0.1 + 0.9 * step / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return onecycle if schedule == "onecycle" else cosine


class WeightEMA:
    """Exponential moving average of parameters and buffers: ``e <- d e + (1 - d) w``.

    The model's tensors and their shadows are listed once (``state_dict()`` tensors share the
    parameters' storage, which the optimizer updates in place), and one update is one
    ``torch._foreach_lerp_`` over the floating-point ones plus one ``torch._foreach_copy_`` over
    the integer buffers (BN's batch counters): two kernel launches per step on a GPU instead of
    one per tensor. :meth:`update` with ``every=k`` uses the decay ``d**k`` (a caller updating
    every k steps keeps the same averaging horizon); ``k=1`` is the per-step EMA exactly.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}
        live = model.state_dict()
        floating = [k for k, v in live.items() if v.dtype.is_floating_point]
        exact = [k for k, v in live.items() if not v.dtype.is_floating_point]
        self._live_float, self._shadow_float = [live[k] for k in floating], [self.shadow[k] for k in floating]
        self._live_exact, self._shadow_exact = [live[k] for k in exact], [self.shadow[k] for k in exact]

    @torch.no_grad()
    def update(self, model: nn.Module | None = None, every: int = 1) -> None:
        """Move the average towards the weights (those of the model given at construction)."""
        if self._shadow_float:
            torch._foreach_lerp_(self._shadow_float, self._live_float, 1 - self.decay ** every)
        if self._shadow_exact:
            torch._foreach_copy_(self._shadow_exact, self._live_exact)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for k, v in state.items():
            self.shadow[k].copy_(v)


# --------------------------------------------------------------------------- evaluation


@dataclass
class EvalResult:
    loss: float
    top1: float  # percent
    top5: float  # percent
    per_class: list[float | None]  # percent, one per class; None for a class without test images
    images: int
    confusion: list[list[int]] = field(default_factory=list)  # [true class][predicted class]
    correct: torch.Tensor | None = None  # per test image, in test-set order


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: BatchLoader, num_classes: int, amp_dtype: torch.dtype | None = None,
    env: distributed.DistEnv = distributed.DistEnv(), tta: str = "none",
) -> EvalResult:
    """Cross-entropy (no smoothing), top-1/top-5 and per-class accuracy over ``loader``.

    ``tta="flip"`` scores each image by the mean of its logits and its horizontal mirror's,
    ``(f(x) + f(flip(x))) / 2``, the test-time augmentation of the CIFAR speedruns (airbench).

    Under torchrun each rank passes its share of the test set; the sums are all-reduced before
    any ratio is taken, so every rank returns the metrics of the whole test set.
    """
    was_training = model.training
    model.eval()
    device = loader.device
    loss_sum = torch.zeros((), device=device)
    correct1 = torch.zeros((), device=device)
    correct5 = torch.zeros((), device=device)
    class_correct = torch.zeros(num_classes, device=device)
    class_total = torch.zeros(num_classes, device=device)
    confusion = torch.zeros(num_classes * num_classes, device=device)
    hits = []
    for x, y in loader:
        with autocast_context(device, amp_dtype):
            logits = model(x).float()
            if tta == "flip":
                logits = 0.5 * (logits + model(x.flip(3)).float())
        loss_sum += F.cross_entropy(logits, y, reduction="sum")
        top = logits.topk(min(5, num_classes), dim=1).indices
        hit1 = top[:, 0] == y
        correct1 += hit1.sum()
        correct5 += (top == y[:, None]).any(dim=1).sum()
        class_correct += torch.bincount(y, weights=hit1.float(), minlength=num_classes)
        class_total += torch.bincount(y, minlength=num_classes).float()
        confusion += torch.bincount(y * num_classes + top[:, 0], minlength=num_classes * num_classes).float()
        hits.append(hit1)
    model.train(was_training)
    correct = torch.cat(hits).cpu() if hits else torch.zeros(0, dtype=torch.bool)
    if env.enabled:  # shards are contiguous: rank order is test-set order
        parts: list[Any] = [None] * env.world_size
        torch.distributed.all_gather_object(parts, correct)
        correct = torch.cat(parts)
    confusion = distributed.all_reduce_sum(confusion, env)
    sums = distributed.all_reduce_sum(torch.cat([loss_sum[None], correct1[None], correct5[None],
                                                 class_correct, class_total]), env)
    loss_sum, correct1, correct5 = sums[0], sums[1], sums[2]
    class_correct, class_total = sums[3:3 + num_classes], sums[3 + num_classes:]
    n = int(class_total.sum().item())
    # a class without test images has no accuracy (None), not 0 %
    accuracy = (100 * class_correct / class_total.clamp(min=1)).tolist()
    per_class = [a if t > 0 else None for a, t in zip(accuracy, class_total.tolist())]
    return EvalResult(
        loss=loss_sum.item() / n, top1=100 * correct1.item() / n, top5=100 * correct5.item() / n,
        per_class=per_class, images=n,
        confusion=confusion.view(num_classes, num_classes).long().tolist(), correct=correct,
    )


# --------------------------------------------------------------------------- checkpoints


def config_fingerprint(config: TrainConfig) -> str:
    """The config as canonical JSON: a checkpoint only resumes a run with the same config."""
    return json.dumps(asdict(config), sort_keys=True)


# What a field newer than a checkpoint or record meant before it existed, where that differs
# from today's default: runs before ``tta`` existed were scored without test-time augmentation.
IMPLICIT_BEFORE_FIELD: dict[str, Any] = {"tta": "none"}
# Fields that never change what a run computes, left out of the resume check: whether missing
# CIFAR files may be fetched (checkpoints from before ``download: auto`` hold ``False``), and how
# often the checkpoint is written.
NOT_IN_RESUME_CHECK = ("download", "checkpoint_every")


def same_config(fingerprint: str, config: TrainConfig) -> bool:
    """True when a checkpoint's ``fingerprint`` was written by ``config``; a field newer than
    the checkpoint matches when ``config`` holds the value the field implicitly had before it
    existed (:data:`IMPLICIT_BEFORE_FIELD`, else its default), so new options keep old runs."""
    stored, current = json.loads(fingerprint), asdict(config)
    implicit = {**asdict(TrainConfig()), **IMPLICIT_BEFORE_FIELD}
    return all(stored.get(k, implicit.get(k)) == current.get(k)
               for k in set(stored) | set(current) if k not in NOT_IN_RESUME_CHECK)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically (temporary file, then rename)."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read; the message names it and the two ways out."""


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint onto the CPU with ``weights_only=True``: it holds tensors and plain
    values only, so a planted file cannot run code through unpickling. Tensors are moved to the
    run's device by ``load_state_dict``; the RNG states stay CPU ByteTensors, the only type
    ``torch.set_rng_state`` and ``torch.cuda.set_rng_state`` accept."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or "fingerprint" not in state:
            raise ValueError("not a cifarlib checkpoint")
        if not isinstance(state["fingerprint"], str):
            raise ValueError(f"its config fingerprint is a {type(state['fingerprint']).__name__}, not a string")
    except pickle.UnpicklingError as err:  # torch's message advises weights_only=False: not here
        raise CheckpointError(
            f"checkpoint {path} cannot be read: it holds objects other than tensors and plain values, "
            "which are refused unread because unpickling them could run code. If you did not write it, "
            "delete it; to start the run afresh, run again with -p restart True") from err
    except Exception as err:  # truncated zip, foreign file
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(err).__name__}: {err}). Delete it to start the "
            "run afresh, or run again with -p restart True") from err
    return state


def check_resumable(path: Path, saved: dict[str, Any], config: TrainConfig, data_fingerprint: str) -> None:
    """Refuse to continue a checkpoint written by another config or for other data.

    ``ValueError`` naming the checkpoint, what differs and the way out. Checkpoints older than
    the data fingerprint (none stored) are resumed: their data cannot be checked.
    """
    if not same_config(saved["fingerprint"], config):
        raise ValueError(f"checkpoint {path} was written by a different config; delete it "
                         "or choose another checkpoint path to start this run afresh")
    stored = saved.get("data_fingerprint")
    if stored is not None and stored != data_fingerprint:
        raise ValueError(
            f"checkpoint {path} was trained on other data (data fingerprint {stored} -> {data_fingerprint}): "
            "its finished epochs saw other images than the rest would. Restore the data it was trained "
            "on, or start the run afresh with -p restart True")


def saved_policy(saved: dict[str, Any]) -> autotune.Policy | None:
    """The execution policy a checkpoint's epochs ran with (``None`` for older checkpoints)."""
    policy = saved.get("execution_policy")
    return None if policy is None else autotune.Policy(**policy)


# --------------------------------------------------------------------------- training


@dataclass
class TrainParts:
    """What a run trains with, built once by :func:`build_parts`."""

    model: nn.Module  # the bare model: checkpointed, averaged and evaluated
    forward: nn.Module  # what a training step calls: the model, its DDP wrapper and/or torch.compile
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    ema: WeightEMA | None
    criterion: nn.Module
    amp_dtype: torch.dtype | None
    device: torch.device
    env: distributed.DistEnv
    policy: autotune.Policy  # checkpointed: a resumed run keeps the numerics it started with
    config: TrainConfig  # for the batch-level augmentations (Cutout, mixup, CutMix) and their seed

    @property
    def eval_dtype(self) -> torch.dtype | None:
        """The autocast dtype of evaluation: the training one (``eval_precision="train"``, the
        default, as every run before the field) or none (``"fp32"``)."""
        return self.amp_dtype if self.config.eval_precision == "train" else None

    def eval_model(self) -> nn.Module:
        """The weights to evaluate: a copy holding the EMA when it is on, else the model itself."""
        if self.ema is None:
            return self.model
        averaged = copy.deepcopy(self.model)
        averaged.load_state_dict(self.ema.state_dict())
        return averaged


@dataclass
class EpochStats:
    """One epoch of training, summed over processes."""

    loss: float  # mean training loss
    top1: float  # training accuracy, percent
    images: int
    seconds: float
    steady_seconds: float  # after the warm-up steps (the whole epoch when none were skipped)
    steady_images: int
    warmup_seconds: float | None  # time of the skipped warm-up steps, when any were skipped
    steps: int = 0  # optimizer steps attempted (every process takes each step of the global batch)
    skipped_steps: int = 0  # steps GradScaler skipped for non-finite gradients (fp16 only)


@dataclass
class TrainState:
    """Counters of a run: the first five are checkpointed and restored on resume, the steady
    throughput counters belong to this process."""

    epoch: int = 0  # epochs finished
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    train_images: int = 0
    prior_wall: float = 0.0  # wall time of the processes that ran before a resume
    steady_seconds: float = 0.0
    steady_images: int = 0
    warmup_seconds: float = 0.0

    def add(self, stats: EpochStats) -> None:
        self.train_seconds += stats.seconds
        self.train_images += stats.images
        self.steady_seconds += stats.steady_seconds
        self.steady_images += stats.steady_images
        if stats.warmup_seconds is not None:
            self.warmup_seconds = stats.warmup_seconds

    @property
    def images_per_s(self) -> float:
        """Steady training images/s (all epochs when no steady time was measured)."""
        if self.steady_seconds > 0:
            return self.steady_images / self.steady_seconds
        return self.train_images / self.train_seconds if self.train_seconds > 0 else float("nan")


def checkpoint_state(config: TrainConfig, parts: TrainParts, state: TrainState, wall_time_s: float,
                     data_fingerprint: str) -> dict[str, Any]:
    """Everything :func:`restore_checkpoint` needs to continue the run exactly, and what it must
    continue with: the execution policy the epochs ran under and the data fingerprint."""
    device = parts.device
    return {
        "fingerprint": config_fingerprint(config), "epoch": state.epoch,
        "execution_policy": parts.policy.as_record(), "data_fingerprint": data_fingerprint,
        "model": parts.model.state_dict(), "optimizer": parts.optimizer.state_dict(),
        "scheduler": parts.scheduler.state_dict(), "scaler": parts.scaler.state_dict(),
        "ema": parts.ema.state_dict() if parts.ema is not None else None,
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "history": state.history, "train_seconds": state.train_seconds, "train_images": state.train_images,
        "wall_time_s": wall_time_s,
    }


def restore_checkpoint(saved: dict[str, Any], parts: TrainParts) -> TrainState:
    """Load a checkpoint read by :func:`load_checkpoint` (and checked by
    :func:`check_resumable`) into ``parts`` and the global RNG; returns the counters."""
    parts.model.load_state_dict(saved["model"])
    parts.optimizer.load_state_dict(saved["optimizer"])
    parts.scheduler.load_state_dict(saved["scheduler"])
    parts.scaler.load_state_dict(saved["scaler"])
    if parts.ema is not None:
        parts.ema.load_state_dict(saved["ema"])
    torch.set_rng_state(saved["rng_cpu"])
    if parts.device.type == "cuda" and saved.get("rng_cuda") is not None:
        torch.cuda.set_rng_state(saved["rng_cuda"], parts.device)
    return TrainState(epoch=saved["epoch"], history=saved["history"], train_seconds=saved["train_seconds"],
                      train_images=saved["train_images"], prior_wall=saved["wall_time_s"])


def checkpoint_due(config: TrainConfig, epochs_done: int) -> bool:
    """Whether the checkpoint is written after ``epochs_done`` epochs: every
    ``checkpoint_every`` epochs and after the last (a big model's checkpoint costs seconds)."""
    return epochs_done % config.checkpoint_every == 0 or epochs_done == config.epochs


class DivergenceError(FloatingPointError):
    """Training loss became non-finite or exploded; no record is written."""


def divergence_bound(num_classes: int) -> float:
    """Largest plausible mean training loss: 3x the loss of a uniform guess, ``3 ln C``."""
    return 3 * math.log(max(num_classes, 2))


# Share of an epoch's steps GradScaler may skip before the run counts as diverged. A healthy fp16
# run skips a handful while the loss scale calibrates and one per growth interval after that.
MAX_SKIPPED_FRACTION = 0.25


def check_divergence(row: dict[str, float], num_classes: int, lr: float, steps: int = 0) -> None:
    """Raise :class:`DivergenceError` when an epoch's mean training loss is implausible, or when
    GradScaler skipped more than :data:`MAX_SKIPPED_FRACTION` of its ``steps`` (fp16: a sustained
    overflow, not the isolated skip that the scaler exists to absorb)."""
    skipped = row.get("skipped_steps", 0)
    if steps and skipped > MAX_SKIPPED_FRACTION * steps:
        raise DivergenceError(
            f"training diverged at epoch {row['epoch']}: the fp16 gradient scaler skipped {skipped:g} of "
            f"{steps} steps for non-finite gradients (more than {MAX_SKIPPED_FRACTION:.0%}). No record was "
            f"written. Lower the learning rate (-p lr {lr / 10:g}) or use bf16 (-p amp bf16), then rerun "
            "with -p restart True")
    bound = divergence_bound(num_classes)
    if not math.isfinite(row["train_loss"]) or row["train_loss"] > bound:
        raise DivergenceError(
            f"training diverged at epoch {row['epoch']}: mean train loss {row['train_loss']:.4g} "
            f"(a uniform guess gives {math.log(num_classes):.3g}; the limit is {bound:.3g}). "
            f"No record was written. Lower the learning rate (-p lr {lr / 10:g}), "
            "or turn amp off (-p amp off), then rerun with -p restart True")


def setup_device(config: TrainConfig) -> tuple[distributed.DistEnv, torch.device]:
    """This process's place in the job and its device (joining the process group under
    torchrun); fails early on a global batch the processes cannot share or fp16 on a CPU."""
    env = distributed.env_from_os()
    device = distributed.device_for(env, resolve_device(config.device))
    distributed.init(env, device)
    distributed.check_batch(env, config.batch_size)
    if config.amp != "auto":
        resolve_amp(config.amp, device)  # fp16 on a CPU fails here, naming the fix
    if device.type == "cuda":
        cuda_backend_policy()
    return env, device


def cuda_backend_policy() -> None:
    """The CUDA settings of every GPU run: cuDNN picks the fastest convolution algorithm for the
    run's fixed shapes (``cudnn.benchmark``), and fp32 matmuls and convolutions may use TF32
    tensor cores (10-bit mantissa inputs, fp32 accumulation; what ``amp off`` means on an
    Ampere or newer GPU). Neither touches the CPU path, where every committed record was made."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True


def model_builder(config: TrainConfig, num_classes: int) -> Callable[[], nn.Module]:
    return lambda: create_model(config.model, num_classes=num_classes, **config.model_kwargs)


def execution_policy(config: TrainConfig, data: TensorDataset, device: torch.device,
                     env: distributed.DistEnv) -> autotune.Policy:
    """Precision and memory format: measured once, on rank 0, and shared with every rank."""
    policy = None
    if env.is_main:
        policy = autotune.resolve_policy(
            config.amp, config.channels_last, config.model, config.model_kwargs,
            model_builder(config, data.num_classes), config.batch_size // env.world_size,
            tuple(data.train_x.shape[1:]), data.num_classes, device, device_name(device))
    return distributed.broadcast_object(policy, env)


def make_loaders(config: TrainConfig, data: TensorDataset, device: torch.device, env: distributed.DistEnv,
                 channels_last: bool) -> tuple[BatchLoader, BatchLoader]:
    """The training loader (global batches) and this rank's contiguous share of the test set."""
    train_loader = BatchLoader(data.train_x, data.train_y, config.batch_size, data.mean, data.std,
                               train=True, seed=config.seed, device=device, channels_last=channels_last)
    return train_loader, eval_loader(config, data, data.test_x, data.test_y, device, env, channels_last)


def eval_loader(config: TrainConfig, data: TensorDataset, x: torch.Tensor, y: torch.Tensor, device: torch.device,
                env: distributed.DistEnv, channels_last: bool) -> BatchLoader:
    """This rank's contiguous share of an evaluation split (the test set or the validation hold-out)."""
    x, y = distributed.shard_batch(x, y, env)
    return BatchLoader(x, y, config.eval_batch_size, data.mean, data.std, device=device, channels_last=channels_last)


def build_parts(config: TrainConfig, num_classes: int, device: torch.device, env: distributed.DistEnv,
                policy: autotune.Policy, steps_per_epoch: int) -> TrainParts:
    """Seed, build the model (in the policy's memory format, under DDP with torchrun), its
    optimizer, schedule, gradient scaler, EMA and loss."""
    torch.manual_seed(config.seed)
    memory_format = torch.channels_last if policy.channels_last else torch.contiguous_format
    model = model_builder(config, num_classes)().to(device).to(memory_format=memory_format)
    total_steps = steps_per_epoch * config.epochs
    replica = distributed.wrap_model(model, env, device, config.sync_bn)
    model = replica.module if env.enabled else replica  # sync BN replaced modules in place
    optimizer = make_optimizer(config, model)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(config.schedule, total_steps, round(config.warmup_fraction * total_steps)))
    amp_dtype = policy.amp_dtype
    return TrainParts(
        model=model, forward=torch.compile(replica, mode=config.compile_mode) if config.compile else replica,
        optimizer=optimizer, scheduler=scheduler,
        scaler=torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16),
        ema=WeightEMA(model, config.ema_decay) if config.ema_decay > 0 else None,
        criterion=nn.CrossEntropyLoss(label_smoothing=config.label_smoothing),
        amp_dtype=amp_dtype, device=device, env=env, policy=policy, config=config)


def train_one_epoch(parts: TrainParts, loader: BatchLoader, epoch: int, warmup_steps: int = 0,
                    progress: bool = True, log_every: int = 50, desc: str = "") -> EpochStats:
    """One pass over ``loader``. The first ``warmup_steps`` steps pay one-time costs (allocator,
    oneDNN primitive creation, compilation): they are timed apart from the steady steps."""
    model, device, env = parts.model, parts.device, parts.env
    model.train()
    loader.set_epoch(epoch)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    scaled = parts.scaler.is_enabled()  # fp16: a non-finite step is skipped, not applied
    finite_seen = torch.zeros((), device=device)  # images of the steps whose loss counts
    skipped = torch.zeros((), device=device)
    seen, steps, steady_local, warmup_seconds = 0, 0, 0, None
    bar = tqdm(loader, desc=desc, disable=not progress or not env.is_main, leave=False, mininterval=1.0)
    config = parts.config
    aug_generator = augmentation_generator(config, epoch, device)
    mix_scalars = scalar_generator(config, epoch, device)
    t0 = t_steady = time.perf_counter()
    for step, (x, y) in enumerate(bar):
        if step == warmup_steps and warmup_steps:
            synchronize(device)
            t_steady = time.perf_counter()
            warmup_seconds = t_steady - t0
        x, y = distributed.shard_batch(x, y, env)
        if aug_generator is not None:
            x = cutout(x, config.cutout, aug_generator)
        batch = mix_batch(x, y, config.mixup, config.cutmix, aug_generator, mix_scalars)
        with autocast_context(device, parts.amp_dtype):
            logits = parts.forward(batch.images)
            loss = batch.loss(parts.criterion, logits.float())
        parts.optimizer.zero_grad(set_to_none=True)
        parts.scaler.scale(loss).backward()
        scale_before = parts.scaler._scale.clone() if scaled else None  # type: ignore[union-attr]
        parts.scaler.step(parts.optimizer)
        parts.scaler.update()
        parts.scheduler.step()
        if parts.ema is not None and parts.scheduler.last_epoch % config.ema_every == 0:  # global step count
            parts.ema.update(every=config.ema_every)
        if scaled:  # a skipped step lowers the scale; its loss is left out of the epoch's mean
            skipped += (parts.scaler._scale < scale_before).float().sum()  # type: ignore[operator]
            finite = torch.isfinite(loss.detach())
            loss_sum += torch.where(finite, loss.detach(), 0.0) * len(y)
            finite_seen += finite.float() * len(y)
        else:
            loss_sum += loss.detach() * len(y)
        steps += 1
        correct += (logits.detach().argmax(1) == y).sum()
        seen += len(y)
        if step >= warmup_steps:
            steady_local += len(y)
        if progress and (step + 1) % log_every == 0:
            bar.set_postfix(loss=f"{loss_sum.item() / max(finite_seen.item() if scaled else seen, 1):.3f}")
    synchronize(device)
    totals = distributed.all_reduce_sum(
        torch.stack([loss_sum, correct.float(), torch.tensor(float(seen), device=device), finite_seen,
                     skipped]), env)
    seen = int(totals[2].item())
    finite_images = totals[3].item() if scaled else seen
    t_end = time.perf_counter()
    return EpochStats(loss=totals[0].item() / finite_images if finite_images else float("nan"),
                      top1=100 * totals[1].item() / seen, images=seen,
                      seconds=t_end - t0, steady_seconds=t_end - t_steady,
                      steady_images=steady_local * env.world_size, warmup_seconds=warmup_seconds,
                      steps=steps, skipped_steps=round(totals[4].item() / env.world_size))


def data_info(data: TensorDataset) -> dict[str, Any]:
    """What a record says about the data a run saw (with a validation hold-out: its image count and
    labels' hash, and, from ``data.info``, ``val_split``: its size, generator seed and indices' hash)."""
    held_out = {} if data.val_y is None else {
        "val_images": len(data.val_y), "val_labels_sha": labels_sha(data.val_y)}
    return {"name": data.name, "source": data.source, "train_images": len(data.train_y),
            "test_images": len(data.test_y), "num_classes": data.num_classes,
            "image_size": list(data.train_x.shape[-2:]), "channels": int(data.train_x.shape[1]),
            "mean": list(data.mean), "std": list(data.std),
            "test_labels_sha": labels_sha(data.test_y), **held_out,
            **data.info}


def labels_sha(labels: torch.Tensor) -> str:
    """sha256 (16 hex digits) of a split's labels: which images a per-image bit string refers to."""
    return hashlib.sha256(labels.numpy().tobytes()).hexdigest()[:16]


@dataclass
class TrainResult:
    config: dict[str, Any]
    history: list[dict[str, float]]
    final: EvalResult
    classes: list[str]
    model: nn.Module
    train_images_per_s: float
    wall_time_s: float
    device: str
    amp_dtype: str
    resumed_from_epoch: int
    world_size: int
    warmup_seconds: float
    warmup_steps: int
    execution_policy: dict[str, Any]
    data_info: dict[str, Any]
    eval_views: dict[str, float] = field(default_factory=dict)  # see evaluation_views
    # the validation hold-out (config.val_split > 0), scored every way the test set is: view -> result
    val_views: dict[str, EvalResult] = field(default_factory=dict)

    @property
    def val_final(self) -> EvalResult | None:
        """The validation result of the reported view (the one ``final`` is of); None without a hold-out."""
        return self.val_views.get(reported_view(self.config["ema_decay"] > 0, self.config["tta"]))


def reported_view(ema: bool, tta: str) -> str:
    """The name of the view a run reports: ``model`` or ``ema``, with ``+flip`` under flip TTA."""
    name = "ema" if ema else "model"
    return name if tta == "none" else f"{name}+{tta}"


def evaluation_results(parts: TrainParts, eval_model: nn.Module, loader: BatchLoader, num_classes: int,
                       reported: EvalResult) -> dict[str, EvalResult]:
    """Every way a finished run can be scored on one split, from the same weights: the trained
    weights (``model``) and, when the EMA is on, the averaged ones (``ema``), each alone and with
    flip test-time augmentation (``+flip``). The view the config asks for is ``reported`` and is
    not evaluated twice. One run thus shows what EMA and TTA add, paired by construction."""
    weights = {"model": parts.model} if parts.ema is None else {"model": parts.model, "ema": eval_model}
    chosen = reported_view(parts.ema is not None, parts.config.tta)
    results: dict[str, EvalResult] = {}
    for name, model in weights.items():
        for tta in TTA_MODES:
            key = reported_view(name == "ema", tta)
            results[key] = reported if key == chosen else evaluate(
                model, loader, num_classes, parts.eval_dtype, parts.env, tta)
    return results


def evaluation_views(parts: TrainParts, eval_model: nn.Module, loader: BatchLoader, num_classes: int,
                     reported_top1: float) -> dict[str, float]:
    """Test top-1 of every view (:func:`evaluation_results`); the reported view's is ``reported_top1``."""
    reported = EvalResult(loss=math.nan, top1=reported_top1, top5=math.nan, per_class=[], images=0)
    return {key: result.top1 for key, result in
            evaluation_results(parts, eval_model, loader, num_classes, reported).items()}


def train(
    config: TrainConfig,
    data: TensorDataset | None = None,
    checkpoint: str | os.PathLike | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    progress: bool = True,
    log_every: int = 50,
) -> TrainResult:
    """Train ``config.model`` and evaluate it after every epoch.

    Args:
        config: the run's configuration (validated here).
        data: an already loaded data set; by default loaded from ``config.dataset``.
        checkpoint: path of the per-epoch checkpoint; if it exists and was written by the same
            config, training resumes after its last epoch.
        on_epoch: called with each epoch's history row (after the checkpoint is written).
        progress: show a tqdm bar per epoch.
    """
    config.validate()
    env, device = setup_device(config)
    if data is None:
        data = load_dataset(config.dataset, config.data_root, config.download)
    data_fingerprint = data.fingerprint  # of the whole data set; the subsets and hold-out are in the config
    data = data.subset(config.train_subset, config.test_subset, seed=config.seed, val=config.val_split)
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    saved = None
    if ckpt_path is not None and ckpt_path.exists():
        saved = load_checkpoint(ckpt_path)
        check_resumable(ckpt_path, saved, config, data_fingerprint)
    # A resumed run keeps the policy its first epochs ran with, on whatever machine it resumes.
    policy = (saved_policy(saved) if saved is not None else None) or execution_policy(config, data, device, env)
    train_loader, test_loader = make_loaders(config, data, device, env, policy.channels_last)
    val_loader = None if data.val_y is None else eval_loader(
        config, data, data.val_x, data.val_y, device, env, policy.channels_last)
    parts = build_parts(config, data.num_classes, device, env, policy, len(train_loader))
    state = restore_checkpoint(saved, parts) if saved is not None else TrainState()
    del saved
    resumed_from = state.epoch
    wall_start = time.perf_counter()
    warmup_steps = min(WARMUP_STEPS, max(0, len(train_loader) - 1))  # left out of the steady images/s
    for epoch in range(resumed_from, config.epochs):
        stats = train_one_epoch(parts, train_loader, epoch, warmup_steps if epoch == resumed_from else 0,
                                progress, log_every, desc=f"epoch {epoch + 1}/{config.epochs}")
        state.add(stats)
        scored = parts.eval_model()
        result = evaluate(scored, test_loader, data.num_classes, parts.eval_dtype, env, config.tta)
        row = {"epoch": epoch + 1, "train_loss": stats.loss, "train_top1": stats.top1,
               "test_loss": result.loss, "test_top1": result.top1, "test_top5": result.top5,
               "lr": parts.optimizer.param_groups[0]["lr"], "epoch_seconds": stats.seconds}
        if val_loader is not None:  # only with a hold-out, so other runs' history rows keep their keys
            held = evaluate(scored, val_loader, data.num_classes, parts.eval_dtype, env, config.tta)
            row.update(val_loss=held.loss, val_top1=held.top1, val_top5=held.top5)
        if parts.scaler.is_enabled():  # fp16 only, so other runs' history rows keep their keys
            row["skipped_steps"] = stats.skipped_steps
        state.history.append(row)
        state.epoch = epoch + 1
        check_divergence(row, data.num_classes, config.lr, stats.steps)
        if ckpt_path is not None and env.is_main and checkpoint_due(config, epoch + 1):
            wall = state.prior_wall + time.perf_counter() - wall_start
            save_checkpoint(ckpt_path, checkpoint_state(config, parts, state, wall, data_fingerprint))
        distributed.barrier(env)  # no rank runs ahead of the checkpoint it may resume from
        if progress and env.is_main:
            tqdm.write(f"epoch {epoch + 1}/{config.epochs}: loss {row['train_loss']:.3f}, "
                       f"test top-1 {row['test_top1']:.2f}%, {stats.seconds:.1f}s")
        if on_epoch is not None:
            on_epoch(row)

    eval_model = parts.eval_model()
    final = evaluate(eval_model, test_loader, data.num_classes, parts.eval_dtype, env, config.tta)
    views = evaluation_views(parts, eval_model, test_loader, data.num_classes, final.top1)
    val_views = {} if val_loader is None else evaluation_results(
        parts, eval_model, val_loader, data.num_classes,
        evaluate(eval_model, val_loader, data.num_classes, parts.eval_dtype, env, config.tta))
    return TrainResult(
        config=asdict(config), history=state.history, final=final, classes=data.classes, model=eval_model,
        train_images_per_s=state.images_per_s, warmup_seconds=state.warmup_seconds, warmup_steps=warmup_steps,
        execution_policy=policy.as_record(), wall_time_s=state.prior_wall + time.perf_counter() - wall_start,
        device=device_name(device), amp_dtype=dtype_label(parts.amp_dtype), resumed_from_epoch=resumed_from,
        world_size=env.world_size, data_info=data_info(data), eval_views=views, val_views=val_views)
