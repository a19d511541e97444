"""Training logs in the formats researchers read, written beside a run's record.

For the record ``results/<dataset>/<experiment>/<run>.json`` a run writes:

* ``<run>.args.yaml``: every parameter of the run as resolved (defaults filled in; paths relative
  to the repository), as timm's ``args.yaml``; written when training starts;
* ``<run>.summary.csv``: one row per epoch, timm's columns ``epoch, train_loss, eval_loss,
  eval_top1, eval_top5, lr``; rewritten (atomically) after every epoch, and once more from the
  record's whole history at the end, so a resumed run's file holds every epoch;
* with ``-p tensorboard true``: TensorBoard scalars per epoch (``loss/train``, ``loss/eval``,
  ``top1/eval``, ``top5/eval``, ``top1/train``, ``lr``, ``images_per_s``) under
  ``tb/<run>/`` beside the records, so ``tensorboard --logdir results/<dataset>/<experiment>``
  shows every run of a sweep. Needs the ``tensorboard`` package (``pip install cifarlib[tensorboard]``).

None of these is a ``*.json`` file, so :func:`cifarlib.results.record_paths` (and the book) never
read them as records.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Callable

import yaml

from .paths import atomic_write

SUMMARY_COLUMNS = ("epoch", "train_loss", "eval_loss", "eval_top1", "eval_top5", "lr")
# summary.csv column -> the record history's key
HISTORY_KEYS = {"epoch": "epoch", "train_loss": "train_loss", "eval_loss": "test_loss",
                "eval_top1": "test_top1", "eval_top5": "test_top5", "lr": "lr"}
TENSORBOARD_FOLDER = "tb"


def log_paths(record: Path) -> dict[str, Path]:
    """Where the logs of the run whose record is ``record`` go."""
    stem = record.with_suffix("")
    return {"summary": stem.with_name(f"{stem.name}.summary.csv"),
            "args": stem.with_name(f"{stem.name}.args.yaml"),
            "tensorboard": record.parent / TENSORBOARD_FOLDER / stem.name}


def summary_rows(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """timm's summary rows from a record's history rows."""
    return [{col: row[key] for col, key in HISTORY_KEYS.items()} for row in history]


def write_summary(path: Path, rows: list[dict[str, Any]]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, lambda tmp: tmp.write_text(text.getvalue()))


def read_summary(path: Path) -> list[dict[str, Any]]:
    """The rows of a summary.csv (numbers as floats, ``epoch`` as int); ``[]`` when there is none."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: int(v) if k == "epoch" else float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def write_args(path: Path, args: dict[str, Any]) -> None:
    text = yaml.safe_dump(args, sort_keys=False, default_flow_style=False, allow_unicode=True)
    atomic_write(path, lambda tmp: tmp.write_text(text))


def epoch_images(train_images: int, batch_size: int) -> int:
    """Images one training epoch sees: full batches only, unless one batch is all there is
    (the rule of :class:`cifarlib.data.BatchLoader`)."""
    return train_images if train_images <= batch_size else train_images // batch_size * batch_size


def check_tensorboard() -> None:
    """``RuntimeError`` naming the fix when the tensorboard package is not installed."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as err:
        raise RuntimeError("-p tensorboard true needs the tensorboard package: pip install "
                           "'cifarlib[tensorboard]' (or pip install tensorboard), or leave tensorboard off") from err


def tensorboard_writer(log_dir: Path) -> Any:
    """torch's ``SummaryWriter`` writing event files into ``log_dir``."""
    check_tensorboard()
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(log_dir))


def run_args(config: dict[str, Any], **run_fields: Any) -> dict[str, Any]:
    """What args.yaml holds: the config as the record stores it, then the run's own parameters
    (folders relative to the repository when inside it)."""
    from .paths import relative_to_repo, repo_path

    fields = {k: relative_to_repo(repo_path(v)) if k.endswith("_dir") else v for k, v in run_fields.items()}
    return {**config, **fields}


class RunLogger:
    """The logs of one run (see the module doc): :meth:`start`, :meth:`epoch` per epoch, :meth:`finish`."""

    def __init__(self, record: Path, tensorboard: bool = False, images_per_epoch: int = 0,
                 make_writer: Callable[[Path], Any] | None = None) -> None:
        self.paths = log_paths(record)
        self.images_per_epoch = images_per_epoch
        self.rows: list[dict[str, Any]] | None = None
        self.writer = (make_writer or tensorboard_writer)(self.paths["tensorboard"]) if tensorboard else None

    def start(self, args: dict[str, Any]) -> None:
        write_args(self.paths["args"], args)

    def epoch(self, row: dict[str, Any]) -> None:
        """One finished epoch (an engine history row): append it to summary.csv and TensorBoard."""
        if self.rows is None:  # a resumed run keeps the rows its earlier process wrote
            self.rows = [r for r in read_summary(self.paths["summary"]) if r["epoch"] < row["epoch"]]
        self.rows.append(summary_rows([row])[0])
        write_summary(self.paths["summary"], self.rows)
        if self.writer is not None:
            step = int(row["epoch"])
            scalars = {"loss/train": row["train_loss"], "loss/eval": row["test_loss"],
                       "top1/train": row["train_top1"], "top1/eval": row["test_top1"],
                       "top5/eval": row["test_top5"], "lr": row["lr"]}
            if self.images_per_epoch and row.get("epoch_seconds"):
                scalars["images_per_s"] = self.images_per_epoch / row["epoch_seconds"]
            for tag, value in scalars.items():
                self.writer.add_scalar(tag, value, step)
            self.writer.flush()

    def finish(self, history: list[dict[str, Any]]) -> None:
        """Rewrite summary.csv from the record's whole history and close TensorBoard."""
        write_summary(self.paths["summary"], summary_rows(history))
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
