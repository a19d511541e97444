"""Where a training step's time goes, per op, for the slow grafts (torch.profiler on the CPU).

For each model: a few warm-up steps, then ``--steps`` profiled training steps (forward, backward,
SGD) at batch ``--batch-size`` in fp32 NCHW (or ``--policy``), one thread unless
``OMP_NUM_THREADS`` says otherwise. It prints

* the top ops by self CPU time per step, with their share of the step;
* convolutions split into depthwise (weight ``C x 1 x k x k``) and dense ones: time per step
  (forward + backward, inclusive) and the GFLOP/s each kind achieves (FLOPs from the recorded
  shapes: 2 per multiply-add; a backward call computes two gradients, each as costly as the
  forward).

The last line per model is the case for or against "this op cannot go faster here": depthwise
convolutions do ``k*k`` multiply-adds per output element and read every input once, so their
arithmetic intensity is ~``k*k/4`` FLOPs per byte against a dense 3x3 conv's ``9*C/4``; on a CPU
they run at a small fraction of the dense convs' GFLOP/s.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/profile_grafts.py [--models msca_resnet20 ...]``.
Run it on a quiet machine; the CPU model is printed first.
"""

from __future__ import annotations

import argparse
import platform
from collections import defaultdict

import torch
import torch.nn as nn
from torch.profiler import ProfilerActivity, profile

from cifarlib.models import create_model

SLOW = ["resnet20", "msca_resnet20", "lsk_resnet20", "coat_resnet20", "hor_resnet20"]


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def conv_flops(shapes: list[list[int]]) -> tuple[float, bool] | None:
    """Forward FLOPs of one ``aten::convolution`` call from its recorded input shapes, and
    whether it is depthwise; None when the shapes are not those of a 2-D convolution."""
    if len(shapes) < 2 or len(shapes[0]) != 4 or len(shapes[1]) != 4:
        return None
    n, c_in, h, w = shapes[0]
    c_out, c_per_group, kh, kw = shapes[1]
    depthwise = c_per_group == 1 and c_in > 1
    # h x w: the output size for a backward call (its grad_out); for a forward call the input
    # size, exact for the stride-1 'same' convs that dominate here
    return 2.0 * n * c_out * h * w * c_per_group * kh * kw, depthwise


def profile_model(name: str, batch_size: int, steps: int, num_classes: int = 10) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_classes=num_classes).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    x = torch.randn(batch_size, 3, 32, 32)
    y = torch.randint(0, num_classes, (batch_size,))

    def step() -> None:
        loss = crit(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages(group_by_input_shape=True)
    total_ms = sum(e.self_cpu_time_total for e in events) / 1e3 / steps
    print(f"\n## {name}: {total_ms:.0f} ms per step (batch {batch_size}), {batch_size / total_ms * 1e3:.0f} images/s")
    by_op = defaultdict(float)
    for e in events:
        by_op[e.key] += e.self_cpu_time_total / 1e3 / steps
    print(f"{'op (self time)':44s} {'ms/step':>8s} {'share':>6s}")
    for op, ms in sorted(by_op.items(), key=lambda kv: -kv[1])[:12]:
        print(f"{op:44s} {ms:8.1f} {ms / total_ms:6.1%}")
    kinds = {True: [0.0, 0.0], False: [0.0, 0.0]}  # depthwise -> [ms fwd+bwd, GFLOP per step]
    for e in events:
        if e.key == "aten::convolution":  # inputs: x, weight, ...
            parsed = conv_flops(e.input_shapes)
            factor = 1.0
        elif e.key == "aten::convolution_backward":  # inputs: grad_out, x, weight, ...
            shapes = e.input_shapes
            parsed = conv_flops([shapes[0][:1] + shapes[1][1:2] + shapes[0][2:], shapes[2]]) if len(shapes) > 2 else None
            factor = 2.0  # grad wrt input and wrt weight, each as costly as the forward
        else:
            continue
        if parsed is None:
            continue
        flops, depthwise = parsed
        kinds[depthwise][0] += e.cpu_time_total / 1e3 / steps
        kinds[depthwise][1] += factor * flops * e.count / steps / 1e9
    for depthwise, label in ((True, "depthwise convs"), (False, "dense convs")):
        ms, gflop = kinds[depthwise]
        rate = gflop / (ms / 1e3) if ms else 0.0
        print(f"{label:16s} {ms:7.1f} ms/step ({ms / total_ms:5.1%} of the step), {gflop:6.2f} GFLOP, {rate:6.1f} GFLOP/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=SLOW)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    print(f"# {cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), fp32 NCHW")
    for name in args.models:
        profile_model(name, args.batch_size, args.steps)


if __name__ == "__main__":
    main()
