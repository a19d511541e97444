"""Model cost: parameters, FLOPs at 32x32, and measured inference throughput.

FLOPs come from PyTorch's own counter (:class:`torch.utils.flop_counter.FlopCounterMode`),
which counts a multiply-add as two FLOPs (so they are twice the "MACs" many papers print) and
covers convolutions, matmuls and attention, not elementwise ops.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from .devices import autocast_context, synchronize
from .models import create_model, model_entry


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, image_size: int = 32, channels: int = 3) -> int:
    """Forward FLOPs for one image (2 per multiply-add), counted in eval mode."""
    was_training = model.training
    model.eval()
    x = torch.zeros(1, channels, image_size, image_size, device=next(model.parameters()).device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return int(counter.get_total_flops())


class _OpCounter(TorchDispatchMode):
    """Counts the ATen operators that do work (a kernel launch each on a GPU in eager mode);
    views and other aliasing ops, which launch nothing, are left out."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        if not func.is_view and func.overloadpacket not in _NO_KERNEL:
            self.count += 1
        return func(*args, **(kwargs or {}))


_NO_KERNEL = {torch.ops.aten.detach, torch.ops.aten.alias, torch.ops.aten.lift_fresh,
              torch.ops.aten.empty, torch.ops.aten.empty_like, torch.ops.aten.empty_strided}


def count_launches(model: nn.Module, image_size: int = 32, channels: int = 3, batch_size: int = 2) -> dict[str, int]:
    """Operators of one eager training step (forward, cross-entropy, backward; the optimizer is
    left out: fused on a GPU it is a few launches) and of one evaluation forward, counted on the
    CPU with a dispatch mode. On a GPU each is about one kernel launch, so the counts stand for
    the launch-bound floor of a step (they do not depend on the batch size)."""
    was_training = model.training
    device = next(model.parameters()).device
    x = torch.randn(batch_size, channels, image_size, image_size, device=device)
    y = torch.zeros(batch_size, dtype=torch.long, device=device)  # class 0 exists for any head
    model.train()
    with _OpCounter() as train_ops:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
    model.zero_grad(set_to_none=True)
    model.eval()
    with torch.no_grad(), _OpCounter() as eval_ops:
        model(x)
    model.train(was_training)
    return {"train_step": train_ops.count, "eval_step": eval_ops.count}


INFERENCE_BATCH_SIZE = 64
"""The batch ``python -m cifarlib models`` times inference with (:func:`model_table`)."""
INFERENCE_AMP = True
"""Whether it times inference under bf16 autocast (:func:`measure_throughput`)."""


def measure_throughput(
    model: nn.Module,
    batch_size: int = INFERENCE_BATCH_SIZE,
    min_seconds: float = 1.0,
    amp: bool = INFERENCE_AMP,
    image_size: int = 32,
    device: str | torch.device = "cpu",
) -> float:
    """Inference images/s on random input (eval mode, bf16 autocast on CPU when ``amp``).

    Runs one warm-up batch, then batches until ``min_seconds`` have passed.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    x = torch.randn(batch_size, 3, image_size, image_size, device=device)
    with torch.inference_mode(), autocast_context(device, torch.bfloat16 if amp else None):
        model(x)
        synchronize(device)
        images, start = 0, time.perf_counter()
        while time.perf_counter() - start < min_seconds:
            model(x)
            images += batch_size
        synchronize(device)
        elapsed = time.perf_counter() - start
    return images / elapsed


def measure_train_throughput(
    name: str, batch_size: int = 128, num_classes: int = 100, device: str | torch.device = "cpu",
    steps: int = 8,
) -> tuple[float, str]:
    """Training images/s of model ``name`` (forward, backward and SGD step on random 32x32
    input) under the execution policy a run of it would use (:func:`cifarlib.autotune.resolve_policy`:
    measured once per device, model and batch size, then cached), and that policy's label."""
    from .autotune import Candidate, resolve_policy, time_candidate
    from .devices import device_name

    device = torch.device(device)

    def build() -> nn.Module:
        torch.manual_seed(0)
        return create_model(name, num_classes=num_classes)

    shape = (3, 32, 32)
    policy = resolve_policy("auto", "auto", name, {}, build, batch_size, shape, num_classes, device,
                            device_name(device))
    chosen = Candidate(policy.precision, policy.channels_last)
    seconds = time_candidate(build, chosen, batch_size, shape, num_classes, device, steps=steps)
    return batch_size / seconds, chosen.label


def model_table(
    names: list[str],
    num_classes: int = 100,
    throughput: bool = False,
    batch_size: int = INFERENCE_BATCH_SIZE,
    min_seconds: float = 1.0,
    train_throughput: bool = False,
    train_batch_size: int = 128,
) -> pd.DataFrame:
    """One row per model: family, method, parameters (millions), forward GFLOPs at 32x32 and,
    when ``throughput`` is set, measured CPU inference images/s (bf16 autocast, batch 64); when
    ``train_throughput`` is set, training images/s at ``train_batch_size`` (the study's 128)
    under the measured execution policy, and that policy."""
    rows = []
    for name in names:
        torch.manual_seed(0)
        entry = model_entry(name)
        model = create_model(name, num_classes=num_classes)
        row = {
            "model": name,
            "family": entry.family,
            "method": entry.method,
            "params_m": count_parameters(model) / 1e6,
            "gflops": count_flops(model) / 1e9,
        }
        if throughput:
            row["images_per_s"] = measure_throughput(model, batch_size, min_seconds)
        if train_throughput:
            row["train_images_per_s"], row["policy"] = measure_train_throughput(
                name, train_batch_size, num_classes)
        rows.append(row)
    return pd.DataFrame(rows)


def adaptation_table(names: list[str], num_classes: int = 100, image_size: int = 32) -> pd.DataFrame:
    """One row per full-size model, read off the built model: its final feature map at
    ``image_size`` (the one output-stride rule of :mod:`cifarlib.models.adaptation`), the
    stochastic depth and dropout it trains with by default, and the paper's ImageNet setting."""
    from .models.adaptation import PAPER_REGULARISATION, active_regularisation, final_feature_size

    rows = []
    for name in names:
        model = create_model(name, num_classes=num_classes)
        height, width = final_feature_size(model, image_size)
        active = active_regularisation(model)
        paper = PAPER_REGULARISATION.get(name, {})
        rows.append({
            "model": name,
            "method": model_entry(name).method,
            "final_map": f"{height}×{width}",
            "drop_path": active["drop_path"],
            "dropout": active["dropout"],
            "paper_regularisation": ", ".join(f"{k}={v:g}" for k, v in paper.items()) or "—",
        })
    return pd.DataFrame(rows)


MODEL_TABLE_COLUMNS = ("model", "family", "method", "params_m", "gflops", "images_per_s")
"""The columns of ``benchmarks/results/models_cpu.txt`` (``python -m cifarlib models``)."""


def format_model_table(table: pd.DataFrame) -> str:
    """The text ``python -m cifarlib models`` prints: aligned columns, three decimals."""
    return table.to_string(index=False, float_format=lambda v: f"{v:.3f}")


def append_model_rows(path: str | Path, rows: pd.DataFrame, comment: str) -> pd.DataFrame:
    """Add ``rows`` (a :func:`model_table` with ``images_per_s``) to the committed model table at
    ``path``, replacing the rows of the same models; the other rows and the comment lines stay,
    and ``comment`` (where and how the new rows were measured) is added. A replaced row keeps its
    place; a new model's row goes last. Returns the new table.

    The file is rewritten atomically; a file whose header is not :data:`MODEL_TABLE_COLUMNS`, or a
    value with whitespace (the table is whitespace-separated), fails by name.
    """
    import io

    from .paths import atomic_write

    path = Path(path)
    missing = [c for c in MODEL_TABLE_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"rows to append lack {missing}: measure them with throughput (drop --no-throughput)")
    rows = rows[list(MODEL_TABLE_COLUMNS)]
    spaced = [v for c in ("model", "family", "method") for v in rows[c] if any(ch.isspace() for ch in str(v))]
    if spaced:
        raise ValueError(f"{path}: the table is whitespace-separated, so {spaced} cannot be written to it")
    comments, table = [], pd.DataFrame(columns=list(MODEL_TABLE_COLUMNS))
    if path.exists():
        text = path.read_text()
        comments = [line for line in text.splitlines() if line.startswith("#")]
        table = pd.read_csv(io.StringIO(text), sep=r"\s+", comment="#")
        if tuple(table.columns) != MODEL_TABLE_COLUMNS:
            raise ValueError(f"{path} is not a model table: its header is {list(table.columns)}, "
                             f"expected {list(MODEL_TABLE_COLUMNS)}")
    new = {r["model"]: r for r in rows.to_dict("records")}
    merged = pd.DataFrame([new.pop(r["model"], r) for r in table.to_dict("records")] + list(new.values()),
                          columns=list(MODEL_TABLE_COLUMNS))  # replaced rows keep their place; new ones go last
    body = "\n".join([*comments, f"# {comment}", format_model_table(merged)]) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(body))
    return merged
