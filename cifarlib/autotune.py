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

What is measured differs by device. On a CPU a step is long and one step's wall time is the
cost, so the median of a few synchronised steps is taken. On a GPU a small model's step is a
few milliseconds of queued kernels, and single synchronised steps measure latency, in which the
candidates tie; so :data:`CUDA_TIMED_STEPS` steps run back to back between two CUDA events and
their mean is taken (the throughput a run sees). bf16 is not a candidate on a CPU without native
bf16 (no ``avx512_bf16``/``amx_bf16`` flag): emulated bf16 is slower there, and measuring it cost
minutes per model. The cache is a speed-up only: an unwritable cache folder is warned about and
the run goes on, and a damaged entry (wrong JSON type, unknown precision, a non-boolean format)
is named and measured again.

The chosen policy and every measured alternative go into the run record
(``execution_policy``), so a reader sees what the run used and what it was chosen over.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .devices import PRECISION_DTYPES, autocast_context, cpu_has_native_bf16, synchronize

CUDA_TIMED_STEPS = 20  # back-to-back steps between two CUDA events per candidate on a GPU
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
        elif device.type == "cpu" and not cpu_has_native_bf16():
            precisions = ["fp32"]  # emulated bf16: slower, and minutes to find that out
    else:
        precisions = ["fp32" if amp == "off" else amp]
    formats = [False, True] if channels_last == "auto" else [channels_last == "on"]
    return [Candidate(p, f) for p in precisions for f in formats]


def time_candidate(
    build: Callable[[], nn.Module], candidate: Candidate, batch_size: int, image_shape: tuple[int, int, int],
    num_classes: int, device: torch.device, steps: int = 4, warmup: int = 2,
) -> float:
    """Seconds of one training step (fwd + bwd + SGD step) after ``warmup`` steps: on a CPU the
    median of ``steps`` synchronised steps; on a GPU the mean of at least
    :data:`CUDA_TIMED_STEPS` back-to-back steps timed by CUDA events."""
    torch.manual_seed(0)
    memory_format = torch.channels_last if candidate.channels_last else torch.contiguous_format
    model = build().to(device).to(memory_format=memory_format).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(batch_size, *image_shape, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, num_classes, (batch_size,), device=device)
    dtype = PRECISION_DTYPES[candidate.precision]
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    def step() -> None:
        with autocast_context(device, dtype):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    if device.type == "cuda":
        for _ in range(max(warmup, 3)):  # cuDNN benchmark picks its algorithms here
            step()
        n = max(steps, CUDA_TIMED_STEPS)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        for _ in range(n):
            step()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000 / n
    times = []
    for i in range(warmup + steps):
        synchronize(device)
        t0 = time.perf_counter()
        step()
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
    cached = read_cache(path, options)
    if cached is not None:
        return cached
    timings = {c: time_candidate(build, c, batch_size, image_shape, num_classes, device) for c in options}
    best = choose(timings)
    policy = Policy(best.precision, best.channels_last, "measured", {c.label: t for c, t in timings.items()})
    write_cache(path, policy, key)
    return policy


class CacheEntryError(ValueError):
    """An autotune cache entry that is not a policy this run could have measured."""


def parse_cache_entry(saved: Any, options: list[Candidate]) -> Policy:
    """The cached :class:`Policy` in ``saved`` (decoded JSON), checked against this run's
    ``options``; :class:`CacheEntryError` saying what is wrong otherwise."""
    if not isinstance(saved, dict):
        raise CacheEntryError(f"expected a JSON object, found {type(saved).__name__}")
    precision, channels_last, seconds = saved.get("precision"), saved.get("channels_last"), saved.get("seconds_per_step")
    allowed = sorted({c.precision for c in options})
    if precision not in allowed:
        raise CacheEntryError(f"precision {precision!r} is not one of this run's candidates {allowed}")
    if not isinstance(channels_last, bool):
        raise CacheEntryError(f"channels_last must be true or false, found {channels_last!r}")
    if Candidate(precision, channels_last) not in options:
        raise CacheEntryError(f"{Candidate(precision, channels_last).label} is not one of this run's candidates")
    if not (isinstance(seconds, dict) and all(isinstance(k, str) and isinstance(v, (int, float))
                                              and not isinstance(v, bool) for k, v in seconds.items())):
        raise CacheEntryError(f"seconds_per_step must map candidate labels to numbers, found {seconds!r}")
    return Policy(precision, channels_last, "cached", dict(seconds))


def read_cache(path: Path, options: list[Candidate]) -> Policy | None:
    """The policy cached at ``path``, or None when there is none or it is damaged (a warning
    names the file and the problem; the policy is then measured again and the entry rewritten)."""
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):  # no entry (the write will say why, if it fails)
        return None
    except OSError as err:
        warnings.warn(f"autotune cache entry {path} cannot be read ({err}); measuring the policy again",
                      stacklevel=3)
        return None
    try:
        return parse_cache_entry(json.loads(text), options)
    except ValueError as err:  # JSONDecodeError and CacheEntryError
        warnings.warn(f"autotune cache entry {path} is damaged ({err}); measuring the policy again",
                      stacklevel=3)
        return None


def write_cache(path: Path, policy: Policy, key: dict[str, Any]) -> None:
    """Cache ``policy`` at ``path``; a folder that cannot be written is warned about, not fatal."""
    try:
        atomic_write(path, lambda tmp: tmp.write_text(json.dumps({**policy.as_record(), "key": key}, indent=1)))
    except OSError as err:
        warnings.warn(f"autotune cache {path.parent} cannot be written ({err}); the measured policy is used but "
                      "not kept, so the next run measures again. Set CIFARLIB_CACHE to a writable folder.",
                      stacklevel=3)
