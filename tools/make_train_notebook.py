"""Generate notebooks/train.ipynb (kept in git; rerun this after editing the cells here)."""

import sys
from pathlib import Path

import nbformat as nbf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cifarlib.params import parameter_table  # noqa: E402


def parameters_source() -> str:
    """The papermill parameters cell: one typed line per parameter, from the one source."""
    lines = ["# Parameters (generated from cifarlib.params by tools/make_train_notebook.py; "
             "papermill overrides them: papermill --help-notebook notebooks/train.ipynb)"]
    for name, kind, default, text in parameter_table():
        annotation = kind if kind.isidentifier() else repr(kind)  # Union[...]: a string, no import
        lines.append(f"{name}: {annotation} = {default!r}" + (f"  # {text}" if text else ""))
    return "\n".join(lines)


PARAMETERS = parameters_source()

# Facts of the run that do not depend on timing or numerics: nbval checks this cell's output in
# the smoke copy (tools/make_nbval_notebooks.py).
RECORD_FACTS = """print(f"record {record['run']} on {record['dataset']}: {record['data']['train_images']} training and "
      f"{record['data']['test_images']} test images, {record['data']['num_classes']} classes, "
      f"{record['model_info']['params']:,} parameters, {len(record['history'])} epoch(s)")"""

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
    ("code", """_names_before_parameters = set(globals())  # lets a later cell refuse undeclared parameters"""),
    ("code", PARAMETERS),
    ("code", """_new_names = set(globals()) - _names_before_parameters  # declared and injected parameters
import os

import pandas as pd
from IPython.display import display

from cifarlib.params import notebook_parameters, parse_run_parameters
from cifarlib.report.plots import setup_style, training_curves
from cifarlib.results import REPO_ROOT
from cifarlib.runner import run_spec

os.chdir(REPO_ROOT)  # relative paths in the parameters are relative to the repository root
spec = parse_run_parameters(notebook_parameters(globals(), _new_names))  # refuses unknown names and bad values"""),
    ("code", """record = run_spec(spec, progress=False)"""),
    ("code", RECORD_FACTS),
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
    nb.cells[2].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "notebooks" / "train.ipynb"
    nbf.write(build(), out)
    print("wrote", out)
