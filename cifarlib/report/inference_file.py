"""How ``benchmarks/results/models_cpu.txt`` (inference throughput) was measured.

Its comment lines, written by ``python -m cifarlib models``, record the CPU, threads and torch
version of every batch of rows (a row appended later adds its own line) and, since the command
learned to write them, the inference batch size and precision. The command has no option for
either: it always times with :data:`cifarlib.profile.INFERENCE_BATCH_SIZE` and
:data:`~cifarlib.profile.INFERENCE_AMP`, so for a file written before that :func:`inference_settings`
reads them from the code and says so (``recorded`` is false).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .bench_header import BenchConditions, BenchHeaderError, comment_lines, device_parts

MEASURED_ON = re.compile(r"throughput measured on (?P<device>.+? \(\d+ threads?\)), torch (?P<torch>[^\s,]+)"
                         r"(?:, inference batch (?P<batch>\d+), (?P<precision>bf16 autocast|fp32))?")


@dataclass(frozen=True)
class InferenceSettings:
    """What ``python -m cifarlib models`` times with: batch size and bf16 autocast (on a CPU)."""

    batch_size: int
    amp: bool
    recorded: bool = True  # False: read from the code's constants, the file's header does not say

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


def inference_settings(text: str = "", source: str = "model table") -> InferenceSettings:
    """The batch size and autocast the file's rows were timed with: from its header lines when
    they record them (all lines must agree; a ``BenchHeaderError`` naming ``source`` otherwise),
    else the constants ``python -m cifarlib models`` times with, marked ``recorded=False``."""
    from ..profile import INFERENCE_AMP, INFERENCE_BATCH_SIZE

    found = {(int(m.group("batch")), m.group("precision") == "bf16 autocast")
             for line in comment_lines(text) if (m := MEASURED_ON.search(line)) and m.group("batch")}
    if len(found) > 1:
        raise BenchHeaderError(f"{source}: its rows were timed with different inference settings {sorted(found)}; "
                               "remeasure them in one run of `python -m cifarlib models`")
    if found:
        batch, amp = found.pop()
        return InferenceSettings(batch_size=batch, amp=amp)
    return InferenceSettings(batch_size=INFERENCE_BATCH_SIZE, amp=INFERENCE_AMP, recorded=False)


def machines_phrase(conditions: list[BenchConditions]) -> str:
    """``AMD EPYC、1 个线程`` per machine, several joined by ``；``."""
    return "；".join(f"{c.cpu}、{c.threads} 个线程" for c in conditions)
