"""Run claims: an exclusive lock file per run, so that sweeps and ``train`` commands sharing one
disk never train the same run twice (two terminals, several GPUs of a node, or the tasks of a
SLURM job array).

A claim is ``<checkpoint_dir>/claims/<dataset>/<experiment>/<run>.lock`` holding its owner as
JSON: host, pid, the process's start time (so that a pid reused by another process is told
apart) and when the claim was taken. It comes into being whole: the content is written to a
private temporary file that is then ``link()``-ed to the lock's name, which fails if the name
exists (atomic on local file systems and on NFSv3+). No other process can ever read a
half-written claim and call it stale.

The owner removes the claim when the run ends, successfully or not. A claim is stale when its
owner is gone: same host, and the pid no longer runs or now belongs to a process that started at
another time. A stale claim is taken over (and the takeover is logged), so a crashed worker's
run is resumed from its checkpoint by the next taker. A claim held by another host is trusted:
remove it by hand if that host is gone for good.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .paths import pid_alive

# An unreadable claim younger than this is treated as live (a foreign writer may still be
# filling it); older, it is stale. Claims written by this module are never unreadable.
UNREADABLE_GRACE_S = 60.0


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field 22), or
    ``None`` where /proc is not available or the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after it
    return int(stat.rsplit(")", 1)[1].split()[19])


def owner_record() -> dict[str, object]:
    """Who this process is, as a claim stores it."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": process_start_time(os.getpid()),
            "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def read_owner(lock: Path) -> dict[str, object] | None:
    """The claim's owner, or ``None`` when the file cannot be read as a claim."""
    try:
        owner = json.loads(lock.read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def stale_reason(lock: Path) -> str | None:
    """Why ``lock`` is stale (its owner is gone), or ``None`` while its owner may still run."""
    owner = read_owner(lock)
    if owner is None:
        try:
            age = dt.datetime.now().timestamp() - lock.stat().st_mtime
        except FileNotFoundError:
            return "removed"
        return f"unreadable for {age:.0f} s" if age > UNREADABLE_GRACE_S else None
    if owner.get("host") != socket.gethostname():
        return None
    try:
        pid = int(owner.get("pid", -1))
    except (TypeError, ValueError):
        return "no valid pid"
    if not pid_alive(pid):
        return f"pid {pid} no longer runs"
    start = owner.get("start")
    if start is not None and process_start_time(pid) not in (None, start):
        return f"pid {pid} now belongs to another process"
    return None


def is_stale(lock: Path) -> bool:
    return stale_reason(lock) is not None


def describe(lock: Path) -> str:
    """The claim's owner and age, for messages: ``host:pid since 2026-12-02T05:00:00+00:00 (12 min)``."""
    owner = read_owner(lock)
    if owner is None:
        return "an unreadable claim"
    since = str(owner.get("since", "?"))
    try:
        minutes = (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(since)).total_seconds() / 60
        age = f" ({minutes:.0f} min)"
    except ValueError:
        age = ""
    return f"{owner.get('host')}:{owner.get('pid')} since {since}{age}"


def _create(lock: Path) -> bool:
    """Make ``lock`` hold this process's owner record, atomically and only if it does not exist."""
    tmp = lock.with_name(f".{lock.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(owner_record()))
    try:
        os.link(tmp, lock)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def try_claim(lock: Path, log: Callable[[str], None] = print) -> bool:
    """Take ``lock``; take it over if stale (logged). True if this process now owns it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        if _create(lock):
            return True
        reason = stale_reason(lock)
        if reason is None:
            return False
        if _take_over(lock, log):
            return True
    return False


def _take_over(lock: Path, log: Callable[[str], None]) -> bool:
    """Replace a stale ``lock`` by this process's claim. Only the holder of the takeover mutex
    (``<lock>.takeover``, itself a claim) removes a stale claim, so two takers can never both
    remove one and each create their own."""
    mutex = lock.with_name(f"{lock.name}.takeover")
    if not _create(mutex):
        if stale_reason(mutex) is not None:  # a taker died mid-takeover
            mutex.unlink(missing_ok=True)
        return False
    try:
        reason = stale_reason(lock)  # again, under the mutex: it may have been taken meanwhile
        if reason is None or reason == "removed":
            return reason == "removed" and _create(lock)
        previous = describe(lock)
        lock.unlink(missing_ok=True)
        if not _create(lock):
            return False
        log(f"claim {lock} taken over from {previous}: {reason}")
        return True
    finally:
        release(mutex)


def release(lock: Path) -> None:
    """Remove ``lock`` if this process owns it."""
    owner = read_owner(lock)
    if owner and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
        lock.unlink(missing_ok=True)


@contextmanager
def claimed(lock: Path, log: Callable[[str], None] = print) -> Iterator[bool]:
    """``with claimed(lock) as mine:`` -- ``mine`` says whether this process holds the run."""
    mine = try_claim(lock, log)
    try:
        yield mine
    finally:
        if mine:
            release(lock)
