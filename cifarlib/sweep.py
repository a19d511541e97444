"""Sweeps: run ``notebooks/train.ipynb`` through papermill for every run of a plan preset.

A plan file (``experiments/plan.yaml``) maps preset names to a data set, shared settings and
groups of runs (models x variants x seeds). The sweep skips runs whose record exists, so it can
be stopped and restarted at any point; an interrupted run resumes from its per-epoch checkpoint.
Each executed notebook is written to a temporary file and moved under ``book/runs/`` only when
the run succeeded.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import distributed
from .data import write_generated_cifar100
from .engine import TrainConfig
from .models import list_models, model_entry
from .results import DEFAULT_RESULTS_DIR, REPO_ROOT
from .runner import DEFAULT_CHECKPOINT_DIR, DEFAULT_RUNS_DIR, run_paths

DEFAULT_PLAN = REPO_ROOT / "experiments" / "plan.yaml"
TRAIN_NOTEBOOK = REPO_ROOT / "notebooks" / "train.ipynb"
_ENV = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def expand_env(text: str) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``."""
    return _ENV.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), text)


@dataclass(frozen=True)
class PlannedRun:
    experiment: str
    model: str
    variant: str
    seed: int
    parameters: dict[str, Any] = field(hash=False)  # papermill parameters of train.ipynb

    @property
    def config(self) -> TrainConfig:
        p = self.parameters
        keys = set(TrainConfig.__dataclass_fields__)
        return TrainConfig.from_dict({k: v for k, v in p.items() if k in keys})


def load_plan(path: str | os.PathLike = DEFAULT_PLAN) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"plan file {path} not found (the default is {DEFAULT_PLAN})")
    plan = yaml.safe_load(path.read_text())
    if not isinstance(plan, dict) or "presets" not in plan:
        raise ValueError(f"plan file {path} needs a top-level 'presets' mapping")
    return plan["presets"]


def preset_spec(preset: str, plan_path: str | os.PathLike = DEFAULT_PLAN) -> dict[str, Any]:
    """One preset of the plan; ``KeyError`` listing the presets if it is not there."""
    presets = load_plan(plan_path)
    if preset not in presets:
        raise KeyError(f"unknown preset {preset!r}; the plan {plan_path} has: {', '.join(presets)}")
    return presets[preset]


def plan_runs(preset: str, plan_path: str | os.PathLike = DEFAULT_PLAN) -> list[PlannedRun]:
    """Expand a preset into its runs (validated: unknown models or keys fail here)."""
    spec = preset_spec(preset, plan_path)
    base = {"dataset": expand_env(spec["dataset"]), "data_root": expand_env(spec.get("data_root", "data")),
            **spec.get("settings", {})}
    runs = []
    for group in spec["groups"]:
        models = list_models() if group["models"] == "all" else list(group["models"])
        variants = group.get("variants") or {"default": {}}
        for model in models:
            model_entry(model)
            for variant, kwargs in variants.items():
                for seed in group.get("seeds", [0]):
                    params = {**base, **group.get("settings", {}), "model": model,
                              "model_kwargs": dict(kwargs or {}), "variant": variant,
                              "experiment": group["experiment"], "seed": int(seed)}
                    run = PlannedRun(group["experiment"], model, variant, int(seed), params)
                    run.config.validate()
                    runs.append(run)
    return runs


def prepare_data(preset: str, plan_path: str | os.PathLike = DEFAULT_PLAN) -> None:
    """Write the generated data set of presets that ask for one (``generate: true``)."""
    spec = preset_spec(preset, plan_path)
    if spec.get("generate"):
        root = Path(expand_env(spec.get("data_root", "data")))
        root = root if root.is_absolute() else REPO_ROOT / root
        if not (root / "cifar-100-python" / "train").exists():
            write_generated_cifar100(root, **spec.get("generate_kwargs", {}))


def run_sweep(
    preset: str,
    plan_path: str | os.PathLike = DEFAULT_PLAN,
    results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR,
    checkpoint_dir: str | os.PathLike = DEFAULT_CHECKPOINT_DIR,
    runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
    only: list[str] | None = None,
    dry_run: bool = False,
    log=print,
) -> list[PlannedRun]:
    """Run every missing run of ``preset``; returns the runs that were executed (or would be)."""
    prepare_data(preset, plan_path)
    runs = [r for r in plan_runs(preset, plan_path) if not only or r.model in only]
    todo = []
    for run in runs:
        paths = run_paths(run.config, run.experiment, run.variant, results_dir, checkpoint_dir, runs_dir)
        if paths.record.exists():
            log(f"skip  {paths.record} (record exists)")
            continue
        todo.append((run, paths))
    log(f"{len(todo)} of {len(runs)} runs to do")
    for i, (run, paths) in enumerate(todo, 1):
        log(f"[{i}/{len(todo)}] {run.experiment}/{paths.record.stem}")
        if not dry_run:
            execute_train_notebook(run.parameters, paths.notebook, results_dir, checkpoint_dir)
    return [r for r, _ in todo]


def execute_train_notebook(
    parameters: dict[str, Any], notebook_path: Path,
    results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR,
    checkpoint_dir: str | os.PathLike = DEFAULT_CHECKPOINT_DIR,
) -> Path:
    """Execute train.ipynb with ``parameters``; the executed copy lands at ``notebook_path``
    only if every cell succeeded (papermill writes under ``<checkpoint_dir>/running/`` first,
    where a failed run's notebook stays for inspection)."""
    import papermill as pm

    notebook_path.parent.mkdir(parents=True, exist_ok=True)
    # The unfinished copy stays out of book/ (the book globs runs/), next to the checkpoints,
    # under the same <dataset>/<experiment>/ folders so that concurrent sweeps never share it.
    dataset, experiment = notebook_path.parent.parent.name, notebook_path.parent.name
    tmp = Path(checkpoint_dir) / "running" / dataset / experiment / notebook_path.name
    env = distributed.env_from_os()
    if not env.is_main:  # under torchrun every rank runs the notebook; rank 0's copy is filed
        tmp = tmp.with_name(f"{tmp.stem}.rank{env.rank}{tmp.suffix}")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    params = {**parameters, "results_dir": str(results_dir), "checkpoint_dir": str(checkpoint_dir)}
    pm.execute_notebook(str(TRAIN_NOTEBOOK), str(tmp), parameters=params, cwd=str(REPO_ROOT),
                        kernel_name="python3", progress_bar=False)
    if not env.is_main:
        tmp.unlink()
        return notebook_path
    title_run_notebook(tmp, notebook_path)
    shutil.move(tmp, notebook_path)
    return notebook_path


def title_run_notebook(path: Path, final_path: Path) -> None:
    """Give an executed notebook a page title naming its run (the book lists it by title):
    ``# <dataset> / <experiment> / <run>`` replaces the template's generic first heading."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    run, experiment, dataset = final_path.stem, final_path.parent.name, final_path.parent.parent.name
    first = nb.cells[0]
    body = first.source.split("\n", 1)[1] if first.source.startswith("# ") else first.source
    first.source = f"# 运行 {dataset} / {experiment} / {run}\n{body}"
    nbformat.write(nb, path)
