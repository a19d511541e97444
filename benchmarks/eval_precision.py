"""Does evaluating under bf16 autocast change what a run reports? (issue 22, item 4)

Trains one model briefly under bf16 autocast on generated CIFAR-100 (``--epochs``), then scores
the same weights on the same test images twice: under bf16 autocast (``eval_precision=train``,
what every record so far did) and in fp32 (``eval_precision=fp32``). Prints both top-1s, the
loss difference, how many test images change their predicted class, and the largest logit
difference. An accuracy measurement, not a timing one.

    python benchmarks/eval_precision.py [--model resnet20] [--epochs 3] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cifarlib import distributed  # noqa: E402
from cifarlib.data import load_dataset, write_generated_cifar100  # noqa: E402
from cifarlib.devices import autocast_context  # noqa: E402
from cifarlib.engine import TrainConfig, evaluate, make_loaders, train  # noqa: E402


@torch.no_grad()
def predictions(model: torch.nn.Module, loader, dtype: torch.dtype | None) -> torch.Tensor:
    model.eval()
    rows = []
    for x, _ in loader:
        with autocast_context(loader.device, dtype):
            rows.append(model(x).float())
    return torch.cat(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-per-class", type=int, default=100)
    parser.add_argument("--test-per-class", type=int, default=50)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        write_generated_cifar100(root, train_per_class=args.train_per_class, test_per_class=args.test_per_class)
        data = load_dataset("cifar100", root)
    config = TrainConfig(model=args.model, epochs=args.epochs, batch_size=64, lr=0.05, amp="bf16",
                         channels_last="on", tta="none", device="cpu")
    result = train(config, data=data, progress=False)
    _, loader = make_loaders(config, data, torch.device("cpu"), distributed.DistEnv(), True)
    scores = {label: evaluate(result.model, loader, data.num_classes, dtype)
              for label, dtype in (("bf16", torch.bfloat16), ("fp32", None))}
    logits = {label: predictions(result.model, loader, dtype)
              for label, dtype in (("bf16", torch.bfloat16), ("fp32", None))}
    flipped = int((logits["bf16"].argmax(1) != logits["fp32"].argmax(1)).sum())
    summary = {"model": args.model, "epochs": args.epochs, "test_images": scores["fp32"].images,
               "top1_bf16": scores["bf16"].top1, "top1_fp32": scores["fp32"].top1,
               "top1_difference": scores["bf16"].top1 - scores["fp32"].top1,
               "loss_bf16": scores["bf16"].loss, "loss_fp32": scores["fp32"].loss,
               "predictions_changed": flipped,
               "max_logit_difference": float((logits["bf16"] - logits["fp32"]).abs().max())}
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
