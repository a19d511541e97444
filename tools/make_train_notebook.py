"""Generate notebooks/train.ipynb (kept in git; rerun this after editing the cells here)."""

from pathlib import Path

import nbformat as nbf

CELLS = [
    ("markdown", """# 训练一个模型 / Train one model

本 notebook 通过 `cifarlib` 训练一个模型，写出运行记录（JSON），并展示指标表和训练曲线。

This notebook trains one model through `cifarlib` and writes its run record. Run it with papermill
from the repository root, e.g.

```bash
papermill notebooks/train.ipynb /tmp/out.ipynb -p model eca_resnet20 -p epochs 1 \\
    -p dataset folder:../shared/data/cifar10-jpeg.zip -p train_subset 2000 -p test_subset 1000
```

or with `python -m cifarlib train ...`, which also files the executed copy under `book/runs/`."""),
    ("code", """# Parameters (papermill overrides these; see `papermill --help-notebook notebooks/train.ipynb`)
model: str = "resnet20"  # a name from `python -m cifarlib models`
model_kwargs: dict = {}  # ablation switches, e.g. -y "model_kwargs: {attn_position: post_add}"
variant: str = "default"  # label of the switch setting, part of the run name
experiment: str = "adhoc"  # group of runs: results/<dataset>/<experiment>/
dataset: str = "cifar100"  # cifar100 | cifar10 | folder:PATH (dir or .zip of train/ and test/)
data_root: str = "data"  # where cifar-100-python/ or cifar-10-batches-py/ live
download: bool = False  # download CIFAR through torchvision when online
epochs: int = 30
batch_size: int = 128
lr: float = 0.1  # peak learning rate
weight_decay: float = 5e-4
schedule: str = "onecycle"  # onecycle | cosine
label_smoothing: float = 0.1
ema_decay: float = 0.0  # 0 turns the weight EMA off
seed: int = 0
amp: str = "auto"  # auto | bf16 | fp16 | off
channels_last: bool = True
compile: bool = False
device: str = "auto"  # auto | cpu | cuda
train_subset: int = 0  # 0 means all training images
test_subset: int = 0  # 0 means all test images
results_dir: str = "results"
checkpoint_dir: str = "checkpoints"
overwrite: bool = False  # retrain even if the record exists"""),
    ("code", """import os
from pathlib import Path

import pandas as pd
from IPython.display import display

from cifarlib.engine import TrainConfig
from cifarlib.plots import setup_style, training_curves
from cifarlib.results import REPO_ROOT
from cifarlib.runner import run_paths, run_training

os.chdir(REPO_ROOT)  # relative paths in the parameters are relative to the repository root
config = TrainConfig(
    model=model, model_kwargs=dict(model_kwargs), dataset=dataset, data_root=data_root,
    download=download, train_subset=train_subset, test_subset=test_subset, epochs=epochs,
    batch_size=batch_size, lr=lr, weight_decay=weight_decay, schedule=schedule,
    label_smoothing=label_smoothing, amp=amp, channels_last=channels_last, compile=compile,
    ema_decay=ema_decay, seed=seed, device=device,
)
config.validate()
paths = run_paths(config, experiment, variant, results_dir, checkpoint_dir)
print("record:", paths.record)"""),
    ("code", """record = run_training(config, experiment, variant, results_dir, checkpoint_dir,
                      overwrite=overwrite, progress=False)"""),
    ("markdown", "## 结果 / Results"),
    ("code", """final = record["final"]
summary = pd.DataFrame([{
    "model": record["config"]["model"], "variant": record["variant"], "dataset": record["dataset"],
    "train images": record["data"]["train_images"], "test images": record["data"]["test_images"],
    "epochs": record["config"]["epochs"], "test top-1 (%)": final["test_top1"],
    "test top-5 (%)": final["test_top5"], "params (M)": record["model_info"]["params"] / 1e6,
    "GFLOPs": record["model_info"]["flops"] / 1e9,
    "train images/s": record["throughput"]["train_images_per_s"],
    "wall time (s)": record["wall_time_s"], "device": record["provenance"]["device"],
}])
display(summary.style.format(precision=2).hide(axis="index"))"""),
    ("code", """setup_style()
history = pd.DataFrame(record["history"]).assign(model=record["config"]["model"])
fig = training_curves(history)"""),
    ("code", """per_class = pd.Series(record["per_class_accuracy"], name="test top-1 (%)").sort_values()
display(pd.concat([per_class.head(5), per_class.tail(5)]).to_frame())"""),
]


def build() -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    for kind, source in CELLS:
        cell = nbf.v4.new_markdown_cell(source) if kind == "markdown" else nbf.v4.new_code_cell(source)
        nb.cells.append(cell)
    nb.cells[1].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "notebooks" / "train.ipynb"
    nbf.write(build(), out)
    print("wrote", out)
