"""Run claims: an exclusive lock file per run, so that sweeps sharing one disk never train the
same run twice (two terminals, several GPUs of a node, or the tasks of a SLURM job array).

A claim is ``<checkpoint_dir>/claims/<dataset>/<experiment>/<run>.lock``, created with
``O_CREAT | O_EXCL`` (atomic on local file systems and on NFSv3+), holding the owner's host,
pid and start time as JSON. The owner removes it when the run ends, successfully or not. A
lock whose owner died (same host, pid no longer alive) is stale and is taken over, so that a
crashed worker's run is resumed from its checkpoint by the next taker. A lock held by another
host is trusted: remove it by hand if that host is gone for good.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _owner() -> dict[str, object]:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(lock: Path) -> bool:
    """True when ``lock`` was written on this host by a process that no longer runs
    (or is unreadable, e.g. its writer died mid-write)."""
    try:
        owner = json.loads(lock.read_text())
    except (OSError, ValueError):
        return True
    return owner.get("host") == socket.gethostname() and not _alive(int(owner.get("pid", -1)))


def try_claim(lock: Path) -> bool:
    """Create ``lock`` exclusively; take it over if stale. True if this process now owns it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not is_stale(lock):
                return False
            # Take over: rename the stale lock away first, so that two takers cannot both win.
            grave = lock.with_name(f"{lock.name}.stale{os.getpid()}")
            try:
                os.replace(lock, grave)
            except FileNotFoundError:
                continue
            if not is_stale(grave):  # another taker replaced it meanwhile: give it back
                os.replace(grave, lock)
                return False
            grave.unlink()
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(_owner(), f)
        return True
    return False


def release(lock: Path) -> None:
    """Remove ``lock`` if this process owns it."""
    try:
        owner = json.loads(lock.read_text())
    except (OSError, ValueError):
        return
    if owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
        lock.unlink(missing_ok=True)


@contextmanager
def claimed(lock: Path) -> Iterator[bool]:
    """``with claimed(lock) as mine:`` -- ``mine`` says whether this process holds the run."""
    mine = try_claim(lock)
    try:
        yield mine
    finally:
        if mine:
            release(lock)
