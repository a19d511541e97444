"""An ESTIMATE (not a measurement) of the GPU time of a plan preset (default ``full``).

No GPU has run the preset yet, so each run's time is modelled from two counts made on the CPU
(``cifarlib.profile``) and three stated assumptions:

* ``count_flops``: forward FLOPs per image at 32x32 (2 per multiply-add); a training step costs
  3x the forward (forward + backward), an evaluation step 1x;
* ``count_launches``: the ATen operators of one eager training step (forward, loss, backward)
  and of one evaluation forward, counted by a dispatch mode; on a GPU each is about one kernel
  launch, plus ``OPTIMIZER_LAUNCHES`` for the fused optimizer step and the loss bookkeeping;
* ``--flops`` (assumed 100 TFLOP/s): what eager bf16 sustains on small convolutions, about
  10 % of an H100's dense bf16 peak;
* ``--launch`` (assumed 12 us): the host cost of one eager launch (the issue's 3 ms for the
  ~250 launches of a resnet20 step);
* ``--pack K`` (default 4): runs packed on one GPU (``sweep --per-device K``) share it, so the
  host launch time of each overlaps the others' kernels.

Per step, the GPU is busy for the larger of the two, compute and launches (they overlap):

    step seconds = max(FLOPs of the step / FLOPS, launches x LAUNCH / K)

Epoch = ceil(50,000 / batch) training steps + ceil(10,000 / eval batch) evaluation steps.
``benchmarks/gpu_check.sh`` measures every model's training step at batch 128 on a GPU; pass
its ``results.jsonl`` with ``--measured`` and those step times replace the model (stated); a
packed run's step is then taken as ``max(compute, measured / K)``.

Usage: ``python benchmarks/estimate_full.py [--preset full] [--flops 100e12] [--launch 12e-6]
[--pack 4] [--measured OUT/results.jsonl]``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cifarlib.models import create_model  # noqa: E402
from cifarlib.profile import count_flops, count_launches  # noqa: E402
from cifarlib.sweep import plan_runs  # noqa: E402

TRAIN_IMAGES, TEST_IMAGES = 50_000, 10_000
OPTIMIZER_LAUNCHES = 5  # fused SGD/AdamW step, the loss and accuracy accumulators


def measured_step_times(path: Path) -> dict[str, tuple[int, float]]:
    """``model -> (batch, seconds per bf16 training step)`` from gpu_check's JSON lines."""
    times = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row.get("step") == "one_step" and row.get("ok") and row.get("precision") == "bf16":
            times[row["model"]] = (row["batch"], row["seconds_per_step"])
    return times


def run_hours(flops: int, launches: dict[str, int], batch: int, eval_batch: int, epochs: int, args,
              measured: tuple[int, float] | None) -> float:
    """GPU-hours of one run under the model of the docstring."""
    compute = 3 * flops * batch / args.flops
    train_step = max(compute, (launches["train_step"] + OPTIMIZER_LAUNCHES) * args.launch / args.pack)
    if measured is not None and measured[0] == batch:  # a measured single-run step replaces the model
        train_step = max(compute, measured[1] / args.pack)
    eval_step = max(flops * eval_batch / args.flops, launches["eval_step"] * args.launch / args.pack)
    epoch = math.ceil(TRAIN_IMAGES / batch) * train_step + math.ceil(TEST_IMAGES / eval_batch) * eval_step
    return epochs * epoch / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="full")
    parser.add_argument("--flops", type=float, default=100e12, help="sustained FLOP/s (assumed)")
    parser.add_argument("--launch", type=float, default=12e-6, help="host seconds per eager launch (assumed)")
    parser.add_argument("--pack", type=int, default=4, help="runs packed on one GPU (sweep --per-device)")
    parser.add_argument("--measured", type=Path, help="gpu_check results.jsonl: measured step times")
    args = parser.parse_args()
    measured = measured_step_times(args.measured) if args.measured else {}
    counts: dict[tuple, tuple[int, dict[str, int]]] = {}
    hours: dict[str, float] = defaultdict(float)
    unpacked: dict[str, float] = defaultdict(float)
    runs = plan_runs(args.preset)
    for run in runs:
        key = (run.model, tuple(sorted(run.config.model_kwargs.items())))
        if key not in counts:
            model = create_model(run.model, num_classes=100, **run.config.model_kwargs)
            counts[key] = (count_flops(model), count_launches(model))
        flops, launches = counts[key]
        c = run.config
        hours[run.experiment] += run_hours(flops, launches, c.batch_size, c.eval_batch_size, c.epochs, args,
                                           measured.get(run.model))
        one = argparse.Namespace(**{**vars(args), "pack": 1})
        unpacked[run.experiment] += run_hours(flops, launches, c.batch_size, c.eval_batch_size, c.epochs, one,
                                              measured.get(run.model))
    print(f"# ESTIMATE for preset {args.preset!r} ({len(runs)} runs) on one H100-class GPU: "
          f"{args.flops / 1e12:g} TFLOP/s sustained and {args.launch * 1e6:g} us per launch (assumed), "
          f"launches counted per model on the CPU; measured step times: "
          f"{len(measured) if measured else 'none'}. See the docstring.")
    print(f"{'model':24s} {'fwd MFLOPs':>10s} {'train launches':>14s} {'eval launches':>13s}")
    for (name, kwargs), (flops, launches) in counts.items():
        label = name + ("" if not kwargs else "[" + ",".join(f"{k}={v}" for k, v in kwargs) + "]")
        print(f"{label:24s} {flops / 1e6:10.1f} {launches['train_step']:14d} {launches['eval_step']:13d}")
    print(f"\n{'experiment':24s} {'1 run/GPU':>10s} {f'{args.pack} packed':>10s}  (GPU-hours)")
    for experiment in hours:
        print(f"{experiment:24s} {unpacked[experiment]:10.1f} {hours[experiment]:10.1f}")
    print(f"{'total':24s} {sum(unpacked.values()):10.1f} {sum(hours.values()):10.1f}")


if __name__ == "__main__":
    main()
