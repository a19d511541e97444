"""Where things live: the repository root, the default folders, the cache, and how a path is
written into a record; plus :func:`atomic_write`, the one way a file is written in place.

Relative paths given by a user (``-p results_dir results``, ``data_root``) are relative to the
repository root (:func:`repo_path`), whatever the current directory is. Paths stored in records
and executed notebooks never name this machine (:func:`portable_path`, :func:`relative_to_repo`).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS_DIR = REPO_ROOT / "results"
DEFAULT_CHECKPOINT_DIR = REPO_ROOT / "checkpoints"
DEFAULT_RUNS_DIR = REPO_ROOT / "book" / "runs"
DEFAULT_PLAN = REPO_ROOT / "experiments" / "plan.yaml"
TRAIN_NOTEBOOK = REPO_ROOT / "notebooks" / "train.ipynb"


def cache_dir() -> Path:
    """Decoded data sets and measured execution policies: ``$CIFARLIB_CACHE``, default
    ``~/.cache/cifarlib``."""
    return Path(os.environ.get("CIFARLIB_CACHE", Path.home() / ".cache" / "cifarlib"))


def repo_path(path: str | os.PathLike) -> Path:
    """``path`` resolved the way the notebook resolves it: relative to the repository root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def portable_path(path: str | os.PathLike) -> str:
    """A path safe to store in a record: relative to the repository when it is inside it or
    next to it (``../shared/data/x.zip``), else just the file name."""
    resolved = Path(path).expanduser().resolve()
    rel = os.path.relpath(resolved, REPO_ROOT)
    return rel if not rel.startswith(os.path.join("..", "..")) else resolved.name


def relative_to_repo(path: str | os.PathLike) -> str:
    """``path`` relative to the repository root when inside it, else unchanged."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


class DiskFullError(OSError):
    """A file could not be written for want of space; the message names it and the way out."""


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# torch.save reports a failed write as a RuntimeError of its zip writer, not as an OSError
TORCH_WRITE_FAILED = ("PytorchStreamWriter", "unexpected pos", "file write failed")
LOW_SPACE_BYTES = 64 * 2**20  # with a failed torch write: the disk counts as full below this


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _is_disk_full(err: BaseException, folder: Path) -> bool:
    if isinstance(err, OSError):
        return err.errno in DISK_FULL_ERRNOS
    free = _free_bytes(folder)
    return (isinstance(err, RuntimeError) and any(s in str(err) for s in TORCH_WRITE_FAILED)
            and free is not None and free < LOW_SPACE_BYTES)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Write a file so that readers see the old file or the whole new one, never a part.

    ``write(tmp)`` writes the content to a temporary file next to ``path`` (hidden:
    ``.<name>.tmp<pid>``, so globs for records pass it over), which is then renamed onto
    ``path``. Parent folders are created. Returns ``path``. A write that fails for want of
    space raises :class:`DiskFullError` naming ``path`` (the old file stays as it was).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:
        if isinstance(err, DiskFullError) or not _is_disk_full(err, path.parent):
            raise
        tmp.unlink(missing_ok=True)  # give its space back before measuring what is free
        free = _free_bytes(path.parent)
        raise DiskFullError(
            errno.ENOSPC,
            f"disk full: cannot write {path} ({'unknown' if free is None else free} bytes free on its disk; "
            f"{type(err).__name__}: {err}). Nothing was replaced: the previous file, if any, is intact. Free "
            "space (or pass another folder) and rerun the same command: a run resumes from its last "
            "checkpoint, and a run whose training finished writes its record from its checkpoint without "
            "training again") from err
    finally:
        tmp.unlink(missing_ok=True)
    return path


_TEMPORARY = re.compile(r"^\..+\.tmp(\d+)$")


def remove_orphan_temporaries(*folders: str | os.PathLike, log: Callable[[str], None] = print) -> list[Path]:
    """Delete the temporary files of :func:`atomic_write` (``.<name>.tmp<pid>``) under ``folders``
    whose writer no longer runs (killed mid-write); returns what was removed. A live writer's
    file is left alone."""
    removed = []
    for folder in folders:
        for path in Path(folder).rglob(".*.tmp*") if Path(folder).is_dir() else []:
            match = _TEMPORARY.match(path.name)
            if match and path.is_file() and not pid_alive(int(match.group(1))):
                path.unlink(missing_ok=True)
                removed.append(path)
    if removed:
        log(f"removed {len(removed)} partial file(s) of killed writes: {', '.join(p.name for p in removed)}")
    return removed


def pid_alive(pid: int) -> bool:
    """True while a process ``pid`` runs on this host (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
