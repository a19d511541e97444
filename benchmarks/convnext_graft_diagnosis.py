"""Why does the ConvNeXt graft learn so slowly under the study's recipe? One suspect at a time.

``convnext_resnet20_iso`` reached 44 % top-1 in the study's 4 epochs where every other
iso-parameter graft reached 76-78 % (``results/cifar10-jpeg/main_iso``). This script trains it
on the graftcheck budget (the CIFAR-10 JPEGs, class-balanced 10,000-image training subset,
2,000 test images, 2 epochs, batch 128, one-cycle, label smoothing 0.1, seed 0; the same
settings as the ``graftcheck`` preset, whose ``resnet20`` record is the reference) with one
switch changed per variant:

* ``paper``: the graft as shipped (truncated-normal std 0.02 init, layer scale 1e-6, LayerNorm,
  SGD lr 0.1, no norm before the head);
* ``ls1``: layer scale starts at 1 instead of 1e-6;
* ``torch_init`` / ``torch_init_ls1``: PyTorch's default (Kaiming-uniform) init instead of the
  paper's std 0.02, without / with layer scale 1;
* ``bn``: BatchNorm instead of LayerNorm in blocks and downsampling layers;
* ``adamw``: AdamW (lr 2e-3, weight decay 0.05: the recipe the paper's family trains with);
* ``head_norm`` / ``head_norm_ls1``: a LayerNorm closing the last stage (the paper's pre-head
  norm), without / with layer scale 1;
* ``k3``: 3x3 depthwise kernels instead of 7x7.

A variant that diverges is recorded with its error instead of an accuracy. Results are merged
into ``--out`` (JSON, one row per variant; the book's ablation chapter reads it), with the CPU
model. Usage::

    OMP_NUM_THREADS=1 python benchmarks/convnext_graft_diagnosis.py [--variants paper ls1 ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from cifarlib.data import offline_dataset_spec
from cifarlib.devices import cpu_model
from cifarlib.engine import DivergenceError, TrainConfig
from cifarlib.runner import run_training

MODEL = "convnext_resnet20_iso"
SGD = {"optimizer": "sgd", "lr": 0.1}
ADAMW = {"optimizer": "adamw", "lr": 0.002, "weight_decay": 0.05}

# variant -> (model kwargs, optimizer settings, what changes, in Chinese for the book)
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "paper": ({}, SGD, "按论文（默认）"),
    "ls1": ({"layer_scale": 1.0}, SGD, "层缩放初值 1"),
    "torch_init": ({"init": "torch"}, SGD, "PyTorch 默认初始化"),
    "torch_init_ls1": ({"init": "torch", "layer_scale": 1.0}, SGD, "PyTorch 默认初始化 + 层缩放初值 1"),
    "bn": ({"norm": "bn"}, SGD, "BatchNorm 代替 LayerNorm"),
    "adamw": ({}, ADAMW, "AdamW（学习率 2e-3，权重衰减 0.05）"),
    "head_norm": ({"head_norm": True}, SGD, "分类头前加 LayerNorm"),
    "head_norm_ls1": ({"head_norm": True, "layer_scale": 1.0}, SGD, "分类头前加 LayerNorm + 层缩放初值 1"),
    "k3": ({"kernel_size": 3}, SGD, "3×3 深度卷积"),
}


def run_variant(name: str, dataset: str, scratch: Path) -> dict[str, Any]:
    kwargs, optim, change = VARIANTS[name]
    config = TrainConfig(model=MODEL, model_kwargs=kwargs, dataset=dataset, train_subset=10000, test_subset=2000,
                         epochs=2, batch_size=128, schedule="onecycle", label_smoothing=0.1, seed=0, tta="none",
                         **optim)
    row: dict[str, Any] = {"variant": name, "change_zh": change, "model_kwargs": kwargs, "optimizer": optim}
    start = time.time()
    try:
        record = run_training(config, experiment="diagnosis", variant=name, results_dir=scratch / "results",
                              checkpoint_dir=scratch / "ckpt", progress=False, log=lambda *a: None)
        row["test_top1_by_epoch"] = [round(h["test_top1"], 2) for h in record["history"]]
    except DivergenceError as error:
        row["diverged"] = str(error).split(". ")[0]
    row["wall_s"] = round(time.time() - start)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--dataset", default=offline_dataset_spec())
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/convnext_graft_diagnosis.json"))
    args = parser.parse_args()
    cpu = f"{cpu_model()}, {torch.get_num_threads()} thread(s), torch {torch.__version__}"
    print(cpu, flush=True)
    saved = json.loads(args.out.read_text()) if args.out.exists() else {}
    rows = {r["variant"]: r for r in saved.get("rows", [])}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.variants:
            row = run_variant(name, args.dataset, Path(scratch))
            row["cpu"] = cpu
            rows[name] = row
            print(json.dumps(row, ensure_ascii=False), flush=True)
    ordered = [rows[name] for name in VARIANTS if name in rows]
    saved.update(model=MODEL, rows=ordered)
    args.out.write_text(json.dumps(saved, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
