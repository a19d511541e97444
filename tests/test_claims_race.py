"""Claims that cannot be stolen: eight processes claiming one run at the same instant, again and
again, always leave exactly one owner; so do eight takers of one stale claim; a pid that now
belongs to another live process does not keep a claim; an empty, fresh claim is not stale."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
from pathlib import Path

from cifarlib import claims

WORKERS = 8
ROUNDS = 100


def _contend(folder: str, rounds: int, stale_first: bool, barrier, wins) -> None:
    for i in range(rounds):
        lock = Path(folder) / f"round{i}.lock"
        barrier.wait()  # every worker starts the round at the same instant
        won = claims.try_claim(lock, log=lambda *_: None)
        wins.put((i, os.getpid(), won))
        barrier.wait()  # hold the claim until every worker has tried
        if won:
            claims.release(lock)


def _owners_per_round(tmp_path: Path, stale_first: bool) -> list[int]:
    if stale_first:  # every round starts with a claim whose owner is dead
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
        for i in range(ROUNDS):
            (tmp_path / f"round{i}.lock").write_text(
                json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "since": "x"}))
    ctx = mp.get_context("fork")
    barrier, wins = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(str(tmp_path), ROUNDS, stale_first, barrier, wins))
             for _ in range(WORKERS)]
    for p in procs:
        p.start()
    results = [wins.get(timeout=120) for _ in range(WORKERS * ROUNDS)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return [sum(won for r, _, won in results if r == i) for i in range(ROUNDS)]


def test_eight_simultaneous_claimants_leave_exactly_one_owner(tmp_path: Path) -> None:
    assert _owners_per_round(tmp_path, stale_first=False) == [1] * ROUNDS


def test_eight_takers_of_a_stale_claim_leave_exactly_one_owner(tmp_path: Path) -> None:
    assert _owners_per_round(tmp_path, stale_first=True) == [1] * ROUNDS


def test_a_claim_whose_pid_was_reused_is_stale_and_the_takeover_is_logged(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    me = claims.owner_record()
    # this very (live) pid, but a process that started at another time: the owner is gone
    lock.write_text(json.dumps({**me, "start": int(me["start"]) - 1, "since": "2026-12-01T00:00:00+00:00"}))
    assert "now belongs to another process" in claims.stale_reason(lock)
    said: list[str] = []
    assert claims.try_claim(lock, log=said.append)
    assert len(said) == 1 and "taken over from" in said[0] and "another process" in said[0]
    assert json.loads(lock.read_text())["start"] == me["start"]


def test_a_fresh_empty_claim_is_live_an_old_one_stale(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    lock.write_text("")  # a foreign writer between create and write
    assert not claims.is_stale(lock) and not claims.try_claim(lock, log=lambda *_: None)
    old = lock.stat().st_mtime - 2 * claims.UNREADABLE_GRACE_S
    os.utime(lock, (old, old))
    assert claims.is_stale(lock) and claims.try_claim(lock, log=lambda *_: None)


def test_a_claim_is_never_seen_half_written(tmp_path: Path) -> None:
    """The claim appears by link() of a complete file: whoever sees the name reads an owner."""
    lock = tmp_path / "run.lock"
    assert claims.try_claim(lock)
    assert claims.read_owner(lock)["pid"] == os.getpid()
    assert not list(tmp_path.glob(".*.tmp"))  # the private temporary file is gone
