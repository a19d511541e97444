"""The execution policy, chosen by measurement: precision x memory format per model and device.

Machines of one kind differ: on one 2-core AMD EPYC bf16 autocast trained ~2x faster than
fp32, on a 2-core Intel Xeon advertising the same ``avx512_bf16`` flag it was slower. So
``amp="auto"`` and ``channels_last="auto"`` are not decided from CPU flags: :func:`resolve_policy`
times a few training steps (forward, backward, SGD step) of every candidate on the actual model,
batch size, image size and device, picks the fastest (:func:`choose`) and caches the answer per
(device, torch version, model and switches, batch size, image size) under the cache directory
(``$CIFARLIB_CACHE``, default ``~/.cache/cifarlib``). Explicit settings win and are not measured.
``torch.compile`` is never switched on automatically (on CPU it needs a C++ toolchain and
minutes of compilation that short runs do not win back); ask for it with ``compile=True``.

The chosen policy and every measured alternative go into the run record
(``execution_policy``), so a reader sees what the run used and what it was chosen over.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .devices import PRECISION_DTYPES, autocast_context, synchronize
from .paths import atomic_write, cache_dir


@dataclass(frozen=True)
class Candidate:
    precision: str  # "fp32", "bf16" or "fp16"
    channels_last: bool

    @property
    def label(self) -> str:
        return f"{self.precision}/{'channels_last' if self.channels_last else 'NCHW'}"


@dataclass
class Policy:
    """What a run executes with, and why."""

    precision: str
    channels_last: bool
    source: str  # "explicit", "measured" or "cached"
    seconds_per_step: dict[str, float] = field(default_factory=dict)  # candidate label -> median s

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return PRECISION_DTYPES[self.precision]

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def choose(timings: dict[Candidate, float]) -> Candidate:
    """The fastest candidate (smallest seconds per step); ties go to the earlier one."""
    if not timings:
        raise ValueError("no candidate timings to choose from")
    return min(timings, key=lambda c: timings[c])


def candidates(amp: str, channels_last: str, device: torch.device) -> list[Candidate]:
    """Every combination left open by the config (explicit values fix their axis)."""
    if amp == "auto":
        precisions = ["fp32", "bf16"]
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            precisions = ["fp32", "fp16"]
    else:
        precisions = ["fp32" if amp == "off" else amp]
    formats = [False, True] if channels_last == "auto" else [channels_last == "on"]
    return [Candidate(p, f) for p in precisions for f in formats]


def time_candidate(
    build: Callable[[], nn.Module], candidate: Candidate, batch_size: int, image_shape: tuple[int, int, int],
    num_classes: int, device: torch.device, steps: int = 4, warmup: int = 2,
) -> float:
    """Median seconds of one training step (fwd + bwd + SGD step) after ``warmup`` steps."""
    torch.manual_seed(0)
    memory_format = torch.channels_last if candidate.channels_last else torch.contiguous_format
    model = build().to(device).to(memory_format=memory_format).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(batch_size, *image_shape, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, num_classes, (batch_size,), device=device)
    dtype = PRECISION_DTYPES[candidate.precision]
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    times = []
    for i in range(warmup + steps):
        synchronize(device)
        t0 = time.perf_counter()
        with autocast_context(device, dtype):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def cache_file(key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return cache_dir() / "autotune" / f"{key['model']}-{digest}.json"


def resolve_policy(
    amp: str, channels_last: str, model_name: str, model_kwargs: dict[str, Any], build: Callable[[], nn.Module],
    batch_size: int, image_shape: tuple[int, int, int], num_classes: int, device: torch.device, device_name: str,
) -> Policy:
    """The policy for this run: explicit settings as given; open choices measured (or cached)."""
    options = candidates(amp, channels_last, device)
    if len(options) == 1:
        only = options[0]
        return Policy(only.precision, only.channels_last, "explicit")
    key = {"device": device_name.split(" (")[0], "threads": torch.get_num_threads(), "torch": torch.__version__,
           "model": model_name, "model_kwargs": model_kwargs, "batch_size": batch_size,
           "image_shape": list(image_shape), "candidates": [c.label for c in options]}
    path = cache_file(key)
    if path.exists():
        try:
            saved = json.loads(path.read_text())
            return Policy(saved["precision"], saved["channels_last"], "cached", saved["seconds_per_step"])
        except (ValueError, KeyError):
            pass  # a damaged cache entry is measured again
    timings = {c: time_candidate(build, c, batch_size, image_shape, num_classes, device) for c in options}
    best = choose(timings)
    policy = Policy(best.precision, best.channels_last, "measured", {c.label: t for c, t in timings.items()})
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps({**policy.as_record(), "key": key}, indent=1)))
    return policy
