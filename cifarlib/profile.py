"""Model cost: parameters, FLOPs at 32x32, and measured inference throughput.

FLOPs come from PyTorch's own counter (:class:`torch.utils.flop_counter.FlopCounterMode`),
which counts a multiply-add as two FLOPs (so they are twice the "MACs" many papers print) and
covers convolutions, matmuls and attention, not elementwise ops.
"""

from __future__ import annotations

import time

import pandas as pd
import torch
import torch.nn as nn
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


def measure_throughput(
    model: nn.Module,
    batch_size: int = 64,
    min_seconds: float = 1.0,
    amp: bool = True,
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


def model_table(
    names: list[str],
    num_classes: int = 100,
    throughput: bool = False,
    batch_size: int = 64,
    min_seconds: float = 1.0,
) -> pd.DataFrame:
    """One row per model: family, method, parameters (millions), forward GFLOPs at 32x32 and,
    when ``throughput`` is set, measured CPU inference images/s (bf16 autocast, batch 64)."""
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
        rows.append(row)
    return pd.DataFrame(rows)
