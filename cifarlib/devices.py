"""Devices and precision: which device a run uses, what its CPU or GPU is called, and which
autocast dtype each AMP mode means there.

AMP policy (``amp="auto"`` in :func:`resolve_amp`): bf16 autocast on CPUs with native bf16
(AVX-512 BF16 / AMX) and on GPUs that support bf16; fp16 autocast on other GPUs; off elsewhere.
``"fp16"`` needs a CUDA device (:data:`FP16_NEEDS_CUDA` is the one message saying so). Training
runs pick their precision by measurement instead (:mod:`cifarlib.autotune`); this module only
names the dtypes and devices.

``/proc/cpuinfo`` is read once per process (:func:`cpu_info`).
"""

from __future__ import annotations

import functools
from contextlib import nullcontext
from pathlib import Path

import torch

# Precision name -> autocast dtype (``None``: full fp32).
PRECISION_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
FP16_NEEDS_CUDA = "bad value for amp: 'fp16' needs a CUDA device; use 'bf16' or 'off' on CPU"


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when visible, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("bad value for device: 'cuda' requested but no CUDA GPU is visible; use 'cpu' or 'auto'")
    return device


@functools.lru_cache(maxsize=1)
def cpu_info() -> str:
    """The text of ``/proc/cpuinfo`` (empty where there is none), read once."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_has_native_bf16() -> bool:
    """True when the CPU advertises AVX-512 BF16 or AMX-BF16 (Linux /proc/cpuinfo)."""
    flags = cpu_info()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, or ``"CPU"``."""
    for line in cpu_info().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "CPU"


def device_name(device: torch.device) -> str:
    """A human-readable device name: the GPU model, or the CPU model and thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()} ({torch.get_num_threads()} threads)"


def resolve_amp(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``mode`` on ``device`` (``None``: full fp32)."""
    if mode == "off":
        return None
    if mode == "bf16":
        return torch.bfloat16
    if mode == "fp16":
        if device.type != "cuda":
            raise ValueError(FP16_NEEDS_CUDA)
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else None


def dtype_label(dtype: torch.dtype | None) -> str:
    """How a run record names its autocast dtype: ``bfloat16``, ``float16`` or ``off``."""
    return str(dtype).replace("torch.", "") if dtype else "off"


def autocast_context(device: torch.device, dtype: torch.dtype | None):
    """Autocast to ``dtype`` on ``device``; a no-op context for ``None`` (fp32)."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); nothing to wait for on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
