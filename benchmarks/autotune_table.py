"""Print the execution-policy candidate table (seconds per training step) for every model asked.

    python benchmarks/autotune_table.py [--models resnet20 eca_resnet20 ...] [--batch-size 128] [--threads 1]

Each candidate (fp32/bf16 x NCHW/channels_last) is timed as the engine's autotune times it
(fwd + bwd + SGD step on random data, median of a few steps after warm-up). The CPU model and
thread count are printed with the table: timings on shared machines are noisy, so compare
ratios within one run.
"""

from __future__ import annotations

import argparse

import torch

from cifarlib.autotune import candidates, choose, time_candidate
from cifarlib.devices import device_name
from cifarlib.models import create_model, list_models
from cifarlib.profile import count_flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["resnet20", *list_models("graft")])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--num-classes", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    options = candidates("auto", "auto", device)
    print(f"# {device_name(device)}, torch {torch.__version__}, batch {args.batch_size}, "
          f"{args.num_classes} classes; seconds per training step (median of {args.steps})")
    print(f"{'model':<22}" + "".join(f"{c.label:>20}" for c in options) + f"{'chosen':>22}{'img/s':>8}{'fwd GFLOP/s':>13}")
    for name in args.models:
        def build(name: str = name) -> torch.nn.Module:
            return create_model(name, num_classes=args.num_classes)
        timings = {c: time_candidate(build, c, args.batch_size, (3, 32, 32), args.num_classes, device,
                                     steps=args.steps) for c in options}
        best = choose(timings)
        ips = args.batch_size / timings[best]
        gflops = count_flops(build()) / 1e9
        print(f"{name:<22}" + "".join(f"{timings[c]:>20.3f}" for c in options)
              + f"{best.label:>22}{ips:>8.0f}{ips * gflops:>13.1f}", flush=True)


if __name__ == "__main__":
    main()
