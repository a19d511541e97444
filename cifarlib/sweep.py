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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import claims, distributed
from .data import cifar_folder, load_dataset, write_generated_cifar100
from .engine import TrainConfig
from .models import model_entry
from .models.methods import MODEL_SELECTORS, expand_models
from .params import parse_run_parameters
from .paths import (DEFAULT_CHECKPOINT_DIR, DEFAULT_PLAN, DEFAULT_RESULTS_DIR, DEFAULT_RUNS_DIR, REPO_ROOT,
                    TRAIN_NOTEBOOK, relative_to_repo, remove_orphan_temporaries, repo_path)
from .results import read_or_quarantine
from .runner import RunPaths, record_differences, run_paths

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
    config: TrainConfig = field(hash=False)  # the parameters, validated once by plan_runs


def load_plan(path: str | os.PathLike = DEFAULT_PLAN) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"plan file {path} not found (the default is {DEFAULT_PLAN})")
    try:
        plan = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        problem = " ".join(str(err).split())
        raise ValueError(f"plan file {path} is not valid YAML ({problem}); fix it at the line named") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("presets"), dict):
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
    check_preset(preset, spec, plan_path)
    base = {"dataset": expand_env(spec["dataset"]), "data_root": expand_env(spec.get("data_root", "data")),
            **spec.get("settings", {})}
    runs = []
    for group in spec["groups"]:
        models = expand_models(group["models"])  # names and selectors (all, grafts, iso, full)
        variants = group.get("variants") or {"default": {}}
        for model in models:
            model_entry(model)
            for variant, kwargs in variants.items():
                for seed in group.get("seeds", [0]):
                    params = {**base, **group.get("settings", {}), "model": model,
                              "model_kwargs": dict(kwargs or {}), "variant": variant,
                              "experiment": group["experiment"], "seed": int(seed)}
                    try:  # unknown keys, types and values fail here, naming the plan's group
                        config = parse_run_parameters(params).config
                    except ValueError as err:
                        raise ValueError(f"plan preset {preset!r}, experiment {group['experiment']!r}: {err}") from None
                    runs.append(PlannedRun(group["experiment"], model, variant, int(seed), params, config))
    return runs


def check_preset(preset: str, spec: Any, plan_path: str | os.PathLike) -> None:
    """Raise ``ValueError`` naming the plan file, the preset and the group when a preset lacks
    what :func:`plan_runs` reads (a mapping with ``dataset`` and a list of ``groups``, each a
    mapping with ``experiment`` and ``models``), instead of a bare ``KeyError``."""
    where = f"plan file {plan_path}, preset {preset!r}"
    if not isinstance(spec, dict):
        raise ValueError(f"{where} is not a mapping (dataset, settings, groups)")
    for key, kind in (("dataset", str), ("groups", list)):
        if not isinstance(spec.get(key), kind):
            raise ValueError(f"{where} needs '{key}' ({'a string' if kind is str else 'a list of groups'})")
    for key in ("settings", "generate_kwargs"):
        if not isinstance(spec.get(key, {}), dict):
            raise ValueError(f"{where}: '{key}' must be a mapping")
    for number, group in enumerate(spec["groups"], 1):
        name = group.get("experiment") if isinstance(group, dict) else None
        label = f"{where}, group {number}" + (f" ({name!r})" if isinstance(name, str) else "")
        if not isinstance(group, dict):
            raise ValueError(f"{label} is not a mapping (experiment, models, seeds, variants)")
        for key in ("experiment", "models"):
            if key not in group:
                raise ValueError(f"{label} lacks '{key}'")
        if group["models"] not in MODEL_SELECTORS and not isinstance(group["models"], list):
            raise ValueError(f"{label}: 'models' must be a list of model names and selectors, or one "
                             f"selector ({', '.join(MODEL_SELECTORS)})")
        if not isinstance(group.get("seeds", [0]), list) or not isinstance(group.get("variants") or {}, dict):
            raise ValueError(f"{label}: 'seeds' must be a list and 'variants' a mapping of name -> switches")


def prepare_data(preset: str, plan_path: str | os.PathLike = DEFAULT_PLAN, download: bool = True) -> None:
    """Write the generated data set of presets that ask for one (``generate: true``), then
    (unless ``download`` is false: a dry run) fetch any CIFAR set the preset's runs need and
    lack (:func:`download_missing`)."""
    spec = preset_spec(preset, plan_path)
    root = repo_path(expand_env(spec.get("data_root", "data")))
    if spec.get("generate"):
        if not (cifar_folder(root, "cifar100") / "train").exists():
            write_generated_cifar100(root, **spec.get("generate_kwargs", {}))
    if download:
        download_missing(plan_runs(preset, plan_path))


def download_missing(runs: list[PlannedRun]) -> None:
    """Fetch each CIFAR set the runs need and lack, once per (data set, root), before any
    worker starts (so concurrent workers never download the same archive); a set that cannot
    be had fails here with :class:`~cifarlib.data.DataNotFoundError`, before anything runs."""
    from .data import check_available, parse_dataset_spec

    seen = set()
    for run in runs:
        key = (run.config.dataset, run.config.data_root, run.config.download)
        if key not in seen and not parse_dataset_spec(run.config.dataset).is_folder:
            seen.add(key)
            check_available(run.config.dataset, repo_path(run.config.data_root), run.config.download)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` (0 <= I < N) -> ``(I, N)``, with an error naming the fix."""
    try:
        index, count = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"bad value for --shard: {text!r}; use I/N with 0 <= I < N, "
                         "e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT") from None
    if not 0 <= index < count:
        raise ValueError(f"bad value for --shard: {text!r}; I must satisfy 0 <= I < N")
    return index, count


def run_sweep(
    preset: str,
    plan_path: str | os.PathLike = DEFAULT_PLAN,
    results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR,
    checkpoint_dir: str | os.PathLike = DEFAULT_CHECKPOINT_DIR,
    runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
    only: list[str] | None = None,
    dry_run: bool = False,
    shard: tuple[int, int] = (0, 1),
    overwrite_stale: bool = False,
    log=print,
    tensorboard: bool = False,
) -> list[PlannedRun]:
    """Run every missing run of ``preset``; returns the runs this process executed (or would).

    A record counts as done only when it is the run the plan asks for: its config and data
    fingerprint match the planned run (:func:`stale_runs`). Stale records stop the sweep before
    anything runs (:class:`StaleRecordsError`, naming each run and what differs), unless
    ``overwrite_stale``, which trains them again. ``shard=(I, N)`` keeps every N-th run of the
    plan starting at I (a deterministic share for one node of a cluster). Each run is claimed
    through a lock file (:mod:`cifarlib.claims`) before it starts, so concurrent sweeps and
    workers on one disk never train it twice; runs left to a live claim of another sweep make
    the sweep end with :class:`RunsLeftError` unless their records exist by then.
    ``tensorboard`` turns on every run's TensorBoard scalars (a run parameter, not its identity).
    """
    prepare_data(preset, plan_path, download=not dry_run)
    remove_orphan_temporaries(results_dir, checkpoint_dir, log=log)
    runs = [r for r in plan_runs(preset, plan_path) if not only or r.model in only]
    index, count = shard
    runs = runs[index::count]
    check = RecordCheck(log)
    todo, stale = [], stale_runs(runs, check, results_dir, checkpoint_dir, runs_dir)
    if stale and not overwrite_stale:
        raise StaleRecordsError(preset, stale)
    for run in runs:
        paths = run_paths(run.config, run.experiment, run.variant, results_dir, checkpoint_dir, runs_dir)
        if run in stale:
            log(f"stale {paths.record.relative_to(results_dir)} ({'; '.join(stale[run])}): trained again")
        elif paths.record.exists():
            log(f"skip  {paths.record.relative_to(results_dir)} (record exists, same config and data)")
            continue
        todo.append((run, paths))
    log(f"{len(todo)} of {len(runs)} runs to do" + (f" (shard {index}/{count})" if count > 1 else ""))
    done, failed, left = [], [], []
    for i, (run, paths) in enumerate(todo, 1):
        if dry_run:
            log(f"[{i}/{len(todo)}] {run.experiment}/{paths.record.stem}")
            done.append(run)
            continue
        with claims.claimed(paths.claim, log) as mine:
            if not mine:
                log(f"skip  {run.experiment}/{paths.record.stem} (claimed by {claims.describe(paths.claim)}: "
                    f"{paths.claim})")
                left.append(paths)
                continue
            if check.is_current(run, paths.record):  # finished by another sweep while we waited
                continue
            log(f"[{i}/{len(todo)}] {run.experiment}/{paths.record.stem}")
            parameters = {**run.parameters, **({"overwrite": True} if run in stale else {}),
                          **({"tensorboard": True} if tensorboard else {})}
            try:
                execute_train_notebook(parameters, paths.notebook, results_dir, checkpoint_dir)
            except RunFailedError as err:
                log(f"FAILED {run.experiment}/{paths.record.stem}: {err}")
                failed.append(paths.record.stem)
                continue
            done.append(run)
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) failed: {', '.join(failed)}; the others finished. "
                           "Fix the cause and rerun the same command (finished runs are skipped)")
    undone = [p for p in left if not p.record.exists()]
    if undone:
        raise RunsLeftError(undone)
    return done


class RecordCheck:
    """Is an existing record the run the plan asks for? Its config is compared with the planned
    config and its data fingerprint with the data the plan names (loaded once per data set;
    when it cannot be loaded here, only the configs are compared, and that is logged)."""

    def __init__(self, log=print) -> None:
        self.log = log
        self.fingerprints: dict[tuple[str, str], str | None] = {}

    def differences(self, run: PlannedRun, record: dict[str, Any]) -> list[str]:
        """What differs between ``record`` and the planned ``run`` (empty: it is that run)."""
        key = (run.config.dataset, run.config.data_root)
        if key not in self.fingerprints:
            self.fingerprints[key] = planned_data_fingerprint(run.config, self.log)
        fingerprint = self.fingerprints[key] or record.get("data", {}).get("fingerprint")
        return record_differences(record, asdict(run.config), fingerprint)

    def is_current(self, run: PlannedRun, path: Path) -> bool:
        """True when ``path`` holds a readable record of exactly this run."""
        record = read_or_quarantine(path, self.log)
        return record is not None and not self.differences(run, record)


def stale_runs(runs: list[PlannedRun], check: RecordCheck, results_dir: str | os.PathLike,
               checkpoint_dir: str | os.PathLike, runs_dir: str | os.PathLike) -> dict[PlannedRun, list[str]]:
    """The planned runs whose existing record is another run: ``{run: [what differs]}``
    (a corrupt record is moved aside: its run is simply not done)."""
    stale = {}
    for run in runs:
        paths = run_paths(run.config, run.experiment, run.variant, results_dir, checkpoint_dir, runs_dir)
        record = read_or_quarantine(paths.record, check.log)
        if record is not None and (diffs := check.differences(run, record)):
            stale[run] = diffs
    return stale


def planned_data_fingerprint(config: TrainConfig, log=print) -> str | None:
    """The data fingerprint of the data set a planned run names; ``None`` if it cannot be loaded."""
    try:
        return load_dataset(config.dataset, repo_path(config.data_root), download=False).fingerprint
    except (OSError, ValueError, RuntimeError) as err:
        log(f"note: data {config.dataset} not loadable here ({err}); records checked by config only")
        return None


class StaleRecordsError(RuntimeError):
    """Existing records of a preset are not the runs its plan asks for; nothing was run."""

    def __init__(self, preset: str, stale: dict[PlannedRun, list[str]]) -> None:
        lines = [f"  {r.experiment}/{r.model}-{r.variant}-s{r.seed}: {'; '.join(d)}" for r, d in stale.items()]
        super().__init__(
            f"{len(stale)} record(s) of preset {preset!r} are stale (made by another config or other data "
            "than the plan now asks for); nothing was run:\n" + "\n".join(lines) + "\n"
            "Either train them again with --overwrite-stale (the old records are replaced), or give the "
            "changed plan another experiment name so that both results are kept.")


class RunsLeftError(RuntimeError):
    """Runs were left to claims of other live sweeps and have no record yet."""

    def __init__(self, undone: list[RunPaths]) -> None:
        names = ", ".join(f"{p.record.parent.name}/{p.record.stem}" for p in undone)
        super().__init__(
            f"{len(undone)} run(s) left undone because another sweep holds their claim: {names}. They "
            "finish with that sweep; if it is gone, rerun this command (a claim whose owner died is taken "
            "over), or remove the claim file it names")


class RunFailedError(RuntimeError):
    """A training notebook failed; the message has the error and the failed notebook's path."""


def worker_gpu(index: str, parent_visible: str | None) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` of a worker on GPU ``index``: an index into the GPUs this
    process sees, so a parent's mask (a SLURM allocation: ``CUDA_VISIBLE_DEVICES=4,5``) is kept
    (``--devices 0,1`` then means GPUs 4 and 5)."""
    if not index.isdigit():
        raise ValueError(f"bad value for --devices: {index!r}; use GPU indices (0,1,2,3) or 'cpu' entries")
    if parent_visible is None:
        return index
    visible = [v.strip() for v in parent_visible.split(",") if v.strip()]
    if int(index) >= len(visible):
        raise ValueError(f"bad value for --devices: GPU {index} is not visible to this process "
                         f"(CUDA_VISIBLE_DEVICES={parent_visible!r} shows {len(visible)}); use indices "
                         f"0..{len(visible) - 1}" if visible else
                         f"bad value for --devices: GPU {index} requested but CUDA_VISIBLE_DEVICES is empty")
    return visible[int(index)]


def worker_environments(devices: list[str], per_device: int = 1,
                        parent: dict[str, str] | None = None) -> list[tuple[str, dict[str, str]]]:
    """``(device, environment)`` of every worker: ``per_device`` workers on each device (packing
    several small runs on one GPU keeps it busy). CPU workers split the cores between them."""
    if per_device < 1:
        raise ValueError(f"bad value for --per-device: {per_device}; use an integer >= 1")
    parent = dict(os.environ if parent is None else parent)
    threads = max(1, (os.cpu_count() or 1) // (len(devices) * per_device))
    workers = []
    for device in devices:
        env = dict(parent)
        if device == "cpu":
            env.update(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS=str(threads))
        else:
            env["CUDA_VISIBLE_DEVICES"] = worker_gpu(device, parent.get("CUDA_VISIBLE_DEVICES"))
        workers += [(device, env)] * per_device
    return workers


def run_workers(
    preset: str, devices: list[str], argv: list[str], log=print, left_runs_exit: int | None = None,
    per_device: int = 1,
) -> int:
    """``per_device`` sweep worker processes per device (``["0", "1"]`` for GPUs, ``["cpu"]``),
    each taking runs until the preset is done; returns the number of failed workers. A worker
    whose exit status is ``left_runs_exit`` only left runs to its siblings' claims: not a
    failure here, since the siblings finish them (a sibling that fails is counted).

    A GPU worker sees only its GPU (``CUDA_VISIBLE_DEVICES``, an index into the parent's own
    mask), so run configs do not change with the device a run lands on. The lock-file claims
    keep workers sharing a device from ever training one run twice.
    """
    import subprocess
    import sys

    procs = []
    for device, env in worker_environments(devices, per_device):
        log(f"worker on device {device}: python -m cifarlib sweep {preset} {' '.join(argv)}")
        procs.append(subprocess.Popen([sys.executable, "-m", "cifarlib", "sweep", preset, *argv], env=env))
    return sum(p.wait() not in (0, left_runs_exit) for p in procs)


def execute_train_notebook(
    parameters: dict[str, Any], notebook_path: Path,
    results_dir: str | os.PathLike = DEFAULT_RESULTS_DIR,
    checkpoint_dir: str | os.PathLike = DEFAULT_CHECKPOINT_DIR,
) -> Path:
    """Execute train.ipynb with ``parameters``; the executed copy lands at ``notebook_path``
    only if every cell succeeded (papermill writes under ``<checkpoint_dir>/running/`` first,
    where a failed run's notebook stays for inspection). A failed cell or a dead kernel (an
    out-of-memory kill) raises :class:`RunFailedError`: that run fails, a sweep goes on."""
    import papermill as pm

    # The unfinished copy stays out of book/ (the book globs runs/), next to the checkpoints,
    # under the same <dataset>/<experiment>/ folders so that concurrent sweeps never share it.
    dataset, experiment = notebook_path.parent.parent.name, notebook_path.parent.name
    tmp = Path(checkpoint_dir) / "running" / dataset / experiment / notebook_path.name
    env = distributed.env_from_os()
    if not env.is_main:  # under torchrun every rank runs the notebook; rank 0's copy is filed
        tmp = tmp.with_name(f"{tmp.stem}.rank{env.rank}{tmp.suffix}")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    # Paths inside the repository are passed relative to it, so that no executed notebook (they
    # are committed under book/runs/) holds an absolute path of this machine.
    params = {**parameters, "results_dir": relative_to_repo(results_dir),
              "checkpoint_dir": relative_to_repo(checkpoint_dir)}
    try:
        pm.execute_notebook(str(TRAIN_NOTEBOOK), str(tmp), parameters=params, cwd=str(REPO_ROOT),
                            kernel_name="python3", progress_bar=False)
    except pm.PapermillExecutionError as err:
        raise RunFailedError(f"{err.ename}: {err.evalue} (executed notebook kept at {tmp})") from None
    except (RuntimeError, TimeoutError) as err:  # nbclient's DeadKernelError, "Kernel died", timeouts
        raise RunFailedError(
            f"the notebook kernel died or stopped answering ({type(err).__name__}: {err}); the usual "
            "cause is running out of memory (try a smaller batch_size, or fewer workers per machine). "
            f"Its checkpoint is kept, so a rerun resumes it; the notebook so far, if any, is at {tmp}") from None
    if not env.is_main:
        tmp.unlink()
        return notebook_path
    title_run_notebook(tmp, notebook_path)
    notebook_path.parent.mkdir(parents=True, exist_ok=True)
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
    meta = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):  # absolute paths of the machine that ran it
        if meta.get(key):
            meta[key] = relative_to_repo(meta[key])
    nbformat.write(nb, path)
