"""How ``benchmarks/results/models_cpu.txt`` (inference throughput) was measured.

Its comment lines, written by ``python -m cifarlib models``, record the CPU, threads and torch
version of every batch of rows (a row appended later adds its own line). They do not record the
batch size or the precision: the command has no option for either and always times with
:func:`cifarlib.profile.model_table`'s ``batch_size`` and :func:`cifarlib.profile.measure_throughput`'s
``amp`` defaults, so :func:`inference_settings` reads those from the code and the chapter says so.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

from .bench_header import BenchConditions, BenchHeaderError, comment_lines, device_parts

MEASURED_ON = re.compile(r"throughput measured on (?P<device>.+? \(\d+ threads?\)), torch (?P<torch>\S+)")


@dataclass(frozen=True)
class InferenceSettings:
    """What ``python -m cifarlib models`` times with: batch size and bf16 autocast (on a CPU)."""

    batch_size: int
    amp: bool

    def phrase(self) -> str:
        """``评估模式、bf16 自动混合精度、批大小 64`` (fp32 when ``amp`` is off)."""
        precision = "bf16 自动混合精度" if self.amp else "fp32"
        return f"评估模式、{precision}、批大小 {self.batch_size}"


def inference_conditions(text: str, source: str = "model table") -> list[BenchConditions]:
    """The distinct (CPU, threads, torch) of the ``throughput measured on ...`` comment lines, in
    file order. A table without one fails, naming ``source`` and the fix."""
    found: list[BenchConditions] = []
    for line in comment_lines(text):
        if match := MEASURED_ON.search(line):
            cpu, threads = device_parts(match.group("device"), source)
            conditions = BenchConditions(cpu=cpu, threads=threads, torch=match.group("torch"))
            if conditions not in found:
                found.append(conditions)
    if not found:
        raise BenchHeaderError(f"{source}: no '# throughput measured on CPU (N threads), torch V' line, so the "
                               "machine its rows were timed on is unknown; write it with `python -m cifarlib models "
                               "> FILE` (or add rows with --append FILE)")
    return found


def inference_settings() -> InferenceSettings:
    """The batch size and autocast ``python -m cifarlib models`` times inference with: the
    defaults of :func:`cifarlib.profile.model_table` and :func:`cifarlib.profile.measure_throughput`."""
    from ..profile import measure_throughput, model_table

    batch = inspect.signature(model_table).parameters["batch_size"].default
    amp = inspect.signature(measure_throughput).parameters["amp"].default
    return InferenceSettings(batch_size=int(batch), amp=bool(amp))


def machines_phrase(conditions: list[BenchConditions]) -> str:
    """``AMD EPYC、1 个线程`` per machine, several joined by ``；``."""
    return "；".join(f"{c.cpu}、{c.threads} 个线程" for c in conditions)
