"""Generate notebooks/train.ipynb (kept in git; rerun this after editing the cells here)."""

import sys
from pathlib import Path

import nbformat as nbf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cifarlib.params import parameter_table  # noqa: E402
from cifarlib.report.run_page import INTRO  # noqa: E402


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
    ("markdown", "# 训练一个模型\n\n" + INTRO),
    ("code", """_names_before_parameters = set(globals())  # lets a later cell refuse undeclared parameters"""),
    ("code", PARAMETERS),
    ("code", """_new_names = set(globals()) - _names_before_parameters  # declared and injected parameters
import os

import pandas as pd
from IPython.display import display

from cifarlib.params import notebook_parameters, parse_run_parameters
from cifarlib.report.plots import setup_style, training_curves
from cifarlib.report.run_page import per_class_extremes, run_summary, styled
from cifarlib.results import REPO_ROOT
from cifarlib.runner import run_spec

os.chdir(REPO_ROOT)  # relative paths in the parameters are relative to the repository root
spec = parse_run_parameters(notebook_parameters(globals(), _new_names))  # refuses unknown names and bad values"""),
    ("code", """record = run_spec(spec, progress=False)"""),
    ("code", RECORD_FACTS),
    ("markdown", "## 结果"),
    ("code", """display(styled(run_summary(record)))  # cifarlib.report.run_page: the run page's summary, in Chinese"""),
    ("code", """setup_style()
history = pd.DataFrame(record["history"]).assign(model=record["config"]["model"])
fig = training_curves(history)"""),
    ("code", """display(styled(per_class_extremes(record)))  # the worst and best classes"""),
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
