"""Can a depthwise conv train faster on this CPU than ``F.conv2d(groups=C)``? (issue 6, item 3)

The slow grafts (msca, lsk, coat, hor) spend 60-65 % of a training step in depthwise convs that
run at 2.5-3.9 GFLOP/s against 40-60 GFLOP/s for dense convs (``profile_grafts_cpu.txt``). This
script times forward + backward of each depthwise shape those grafts use, in every formulation
that computes the same function:

* ``conv``: ``F.conv2d(x, w, groups=C)``, NCHW (what the models run; oneDNN or the slow path);
* ``conv_cl``: the same on a channels_last tensor;
* ``conv_bf16``: the same under bf16 autocast, channels_last (what autocast would pick);
* ``shifted``: the conv as a sum of ``kh * kw`` shifted, per-channel-scaled copies of the padded
  input, ``y = sum_ij w[:, ij] * x_pad[:, :, i*d : i*d+H, j*d : j*d+W]`` (autograd builds the
  backward from the same elementwise ops);
* ``strip1d`` (1 x k and k x 1 kernels only): ``F.conv1d`` over rows or columns folded into the
  batch, a different kernel path in oneDNN.

Each formulation's output is checked against ``conv`` before it is timed. Repeats are
interleaved (A B C A B C ...) and the median is reported, so a slow phase of a shared machine hits
every formulation alike. Timings belong here, never in tests.

    OMP_NUM_THREADS=1 python benchmarks/depthwise_formulations.py [--repeats 7] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cifarlib.devices import cpu_model  # noqa: E402

# (label, channels, spatial size, kernel (kh, kw), dilation): the grafts' depthwise convs at
# their widest (stage 1, 32x32, 16 channels) and narrowest (stage 3, 8x8, 64 channels) stages.
CASES = [
    ("msca/lsk 5x5, stage 1", 16, 32, (5, 5), 1),
    ("msca 1x7, stage 1", 16, 32, (1, 7), 1),
    ("msca 21x1, stage 1", 16, 32, (21, 1), 1),
    ("lsk 7x7 d3, stage 1", 16, 32, (7, 7), 3),
    ("hor 7x7, stage 1", 8, 32, (7, 7), 1),
    ("coat 3x3 (x4 expand), stage 1", 64, 32, (3, 3), 1),
    ("msca/lsk 5x5, stage 3", 64, 8, (5, 5), 1),
    ("msca 1x21, stage 3", 64, 8, (1, 21), 1),
    ("lsk 7x7 d3, stage 3", 64, 8, (7, 7), 3),
]

Conv = Callable[[torch.Tensor, torch.Tensor, tuple[int, int], int], torch.Tensor]


def padding_of(kernel: tuple[int, int], dilation: int) -> tuple[int, int]:
    return (dilation * (kernel[0] - 1) // 2, dilation * (kernel[1] - 1) // 2)


def conv(x: torch.Tensor, w: torch.Tensor, kernel: tuple[int, int], dilation: int) -> torch.Tensor:
    return F.conv2d(x, w, padding=padding_of(kernel, dilation), dilation=dilation, groups=x.shape[1])


def conv_cl(x: torch.Tensor, w: torch.Tensor, kernel: tuple[int, int], dilation: int) -> torch.Tensor:
    return conv(x.contiguous(memory_format=torch.channels_last), w, kernel, dilation)


def conv_bf16(x: torch.Tensor, w: torch.Tensor, kernel: tuple[int, int], dilation: int) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return conv_cl(x, w, kernel, dilation).float()


def shifted(x: torch.Tensor, w: torch.Tensor, kernel: tuple[int, int], dilation: int) -> torch.Tensor:
    """``sum_ij w[c, i, j] * x_pad[n, c, y + i*d, x + j*d]``: kh*kw multiply-adds of shifted views."""
    ph, pw = padding_of(kernel, dilation)
    height, width = x.shape[-2:]
    padded = F.pad(x, (pw, pw, ph, ph))
    taps = w.view(w.shape[0], -1)
    out = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            view = padded[:, :, i * dilation:i * dilation + height, j * dilation:j * dilation + width]
            term = view * taps[:, i * kernel[1] + j].view(1, -1, 1, 1)
            out = term if out is None else out + term
    return out


def strip1d(x: torch.Tensor, w: torch.Tensor, kernel: tuple[int, int], dilation: int) -> torch.Tensor:
    """A 1 x k (or k x 1) depthwise conv as ``F.conv1d`` along rows (columns), rows in the batch."""
    n, c, h, wd = x.shape
    if kernel[0] == 1:  # along the width: rows go to the batch
        rows = x.permute(0, 2, 1, 3).reshape(n * h, c, wd)
        out = F.conv1d(rows, w.view(c, 1, kernel[1]), padding=dilation * (kernel[1] - 1) // 2,
                       dilation=dilation, groups=c)
        return out.view(n, h, c, wd).permute(0, 2, 1, 3)
    cols = x.permute(0, 3, 1, 2).reshape(n * wd, c, h)
    out = F.conv1d(cols, w.view(c, 1, kernel[0]), padding=dilation * (kernel[0] - 1) // 2,
                   dilation=dilation, groups=c)
    return out.view(n, wd, c, h).permute(0, 2, 3, 1)


FORMULATIONS: dict[str, Conv] = {"conv": conv, "conv_cl": conv_cl, "conv_bf16": conv_bf16,
                                 "shifted": shifted, "strip1d": strip1d}


def applicable(name: str, kernel: tuple[int, int]) -> bool:
    return name != "strip1d" or 1 in kernel


def step_seconds(f: Conv, x: torch.Tensor, w: torch.Tensor, kernel: tuple[int, int], dilation: int,
                 grad: torch.Tensor) -> float:
    """One forward + backward (gradients for input and weight), in seconds."""
    x.grad = w.grad = None
    t0 = time.perf_counter()
    f(x, w, kernel, dilation).backward(grad)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [f"# {cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
             f"batch {args.batch}, forward + backward, median of {args.repeats} interleaved repeats",
             f"{'case':32s} {'formulation':10s} {'ms':>8s} {'GFLOP/s':>8s} {'x conv':>7s} {'max |diff|':>10s}"]
    print(lines[0], "\n" + lines[1], flush=True)
    for label, channels, size, kernel, dilation in CASES:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(args.batch, channels, size, size, generator=g, requires_grad=True)
        w = torch.randn(channels, 1, *kernel, generator=g, requires_grad=True)
        grad = torch.randn(args.batch, channels, size, size, generator=g)
        names = [n for n in FORMULATIONS if applicable(n, kernel)]
        with torch.no_grad():
            reference = conv(x, w, kernel, dilation)
            diffs = {n: (FORMULATIONS[n](x, w, kernel, dilation) - reference).abs().max().item() for n in names}
        times: dict[str, list[float]] = {n: [] for n in names}
        for n in names:  # warm-up: oneDNN primitive creation, allocator
            step_seconds(FORMULATIONS[n], x, w, kernel, dilation, grad)
        for _ in range(args.repeats):
            for n in names:
                times[n].append(step_seconds(FORMULATIONS[n], x, w, kernel, dilation, grad))
        flops = 3 * 2 * args.batch * channels * size * size * kernel[0] * kernel[1]  # fwd + 2 bwd
        base = statistics.median(times["conv"])
        for n in names:
            t = statistics.median(times[n])
            line = (f"{label:32s} {n:10s} {1e3 * t:8.2f} {flops / t / 1e9:8.2f} {base / t:7.2f} "
                    f"{diffs[n]:10.1e}")
            lines.append(line)
            print(line, flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
