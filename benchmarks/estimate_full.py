"""An estimate (not a measurement) of the GPU time of the ``full`` preset (CIFAR-100, 3 seeds).

No GPU was available when this was written, so the time per training image of each run is
modelled from FLOPs, with two stated assumptions:

    seconds per image = 3 * forward FLOPs / SUSTAINED_FLOPS + STEP_FLOOR_S / batch size

* ``3 * forward FLOPs``: forward plus backward (about twice the forward), counted at 32x32 by
  PyTorch's FLOP counter (2 FLOPs per multiply-add);
* ``SUSTAINED_FLOPS`` = 100 TFLOP/s: about 10 % of an H100's dense bf16 peak, what eager PyTorch
  sustains on small convolutions at batch 128 (an assumption);
* ``STEP_FLOOR_S`` = 3 ms: the launch-bound floor of one eager training step of a small network
  (hundreds of kernels of a few microseconds; an assumption).

Evaluation (10,000 test images per epoch, forward only) adds about a sixth of the training
FLOPs and is included. ``benchmarks/gpu_check.sh`` measures the real rate on a GPU; rerun this
with ``--flops`` and ``--floor`` set from it.

Usage: ``python benchmarks/estimate_full.py [--flops 100e12] [--floor 0.003]``.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from cifarlib.models import create_model
from cifarlib.profile import count_flops
from cifarlib.sweep import plan_runs

TRAIN_IMAGES, TEST_IMAGES = 50_000, 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flops", type=float, default=100e12, help="sustained training FLOP/s (assumed)")
    parser.add_argument("--floor", type=float, default=0.003, help="seconds per training step at least (assumed)")
    parser.add_argument("--preset", default="full")
    args = parser.parse_args()
    forward = {}
    hours: dict[str, float] = defaultdict(float)
    runs = plan_runs(args.preset)
    for run in runs:
        key = (run.model, tuple(sorted(run.config.model_kwargs.items())))
        if key not in forward:
            forward[key] = count_flops(create_model(run.model, num_classes=100, **run.config.model_kwargs))
        flops = forward[key]
        per_image = 3 * flops / args.flops + args.floor / run.config.batch_size
        per_test_image = flops / args.flops + args.floor / run.config.eval_batch_size
        seconds = run.config.epochs * (TRAIN_IMAGES * per_image + TEST_IMAGES * per_test_image)
        hours[run.experiment] += seconds / 3600
    print(f"# ESTIMATE for preset {args.preset!r} ({len(runs)} runs) on one GPU, assuming "
          f"{args.flops / 1e12:g} TFLOP/s sustained and a {args.floor * 1e3:g} ms step floor (see the docstring)")
    for experiment, h in hours.items():
        print(f"{experiment:24s} {h:7.1f} GPU-hours")
    print(f"{'total':24s} {sum(hours.values()):7.1f} GPU-hours")


if __name__ == "__main__":
    main()
