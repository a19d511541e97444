"""Sweeps over many devices and nodes: lock-file claims, --devices workers, --shard I/N."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from cifarlib import claims
from cifarlib.sweep import parse_shard, run_sweep


def test_a_claim_is_exclusive_and_released(tmp_path: Path) -> None:
    lock = tmp_path / "a" / "run.lock"
    assert claims.try_claim(lock)
    assert not claims.try_claim(lock)  # a live owner (this very process) keeps it
    owner = json.loads(lock.read_text())
    assert {"host", "pid", "since"} <= set(owner)
    claims.release(lock)
    assert not lock.exists()
    with claims.claimed(lock) as mine:
        assert mine and lock.exists()
    assert not lock.exists()


def test_a_dead_owners_lock_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    lock = tmp_path / "run.lock"
    import socket

    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "since": "x"}))
    assert claims.is_stale(lock)
    assert claims.try_claim(lock)
    assert json.loads(lock.read_text())["pid"] != int(dead.stdout)


def test_a_lock_from_another_host_is_trusted(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    lock.write_text(json.dumps({"host": "some-other-node", "pid": 1, "since": "x"}))
    assert not claims.try_claim(lock)


@pytest.mark.parametrize("text", ["2/2", "a/b", "1", "-1/3"])
def test_bad_shard_is_named(text: str) -> None:
    with pytest.raises(ValueError, match="--shard"):
        parse_shard(text)


def test_shards_partition_the_plan(tmp_path: Path) -> None:
    dirs = dict(results_dir=tmp_path / "r", checkpoint_dir=tmp_path / "c", runs_dir=tmp_path / "n")
    every = run_sweep("graftcheck", dry_run=True, log=lambda *_: None, **dirs)
    parts = [run_sweep("graftcheck", dry_run=True, shard=(i, 3), log=lambda *_: None, **dirs) for i in range(3)]
    keys = [[(r.experiment, r.model, r.variant, r.seed) for r in part] for part in parts]
    flat = [k for part in keys for k in part]
    assert len(flat) == len(set(flat)) == len(every)


@pytest.mark.slow
def test_two_cpu_workers_train_each_smoke_run_once(tmp_path: Path) -> None:
    dirs = ["--results-dir", str(tmp_path / "r"), "--checkpoint-dir", str(tmp_path / "c"),
            "--runs-dir", str(tmp_path / "n")]
    cmd = [sys.executable, "-m", "cifarlib", "sweep", "smoke", "--devices", "cpu,cpu", *dirs]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    started = Counter(re.findall(r"^\[\d+/\d+\] (\S+)$", out.stdout, flags=re.M))
    assert sorted(started) == ["smoke/eca_resnet20-default-s0", "smoke/resnet20-default-s0"]
    assert set(started.values()) == {1}, started
    assert len(list((tmp_path / "r").rglob("*.json"))) == 2
    assert not list((tmp_path / "c" / "claims").rglob("*.lock"))  # every claim released


def test_a_dry_run_with_devices_lists_and_starts_no_worker(tmp_path: Path, monkeypatch, capsys) -> None:
    import cifarlib.sweep as sweep
    from cifarlib.__main__ import main

    def no_workers(*_args, **_kwargs):
        raise AssertionError("a dry run must not start workers")

    monkeypatch.setattr(sweep, "run_workers", no_workers)
    main(["sweep", "smoke", "--dry-run", "--devices", "cpu,cpu", "--results-dir", str(tmp_path / "r"),
          "--checkpoint-dir", str(tmp_path / "c"), "--runs-dir", str(tmp_path / "n")])
    listed = capsys.readouterr().out
    assert re.search(r"\d+ of \d+ runs to do", listed) and "[1/" in listed
    assert not (tmp_path / "r").exists() and not (tmp_path / "c").exists()


def test_workers_pack_per_device_and_keep_the_parents_gpu_mask() -> None:
    from cifarlib.sweep import worker_environments

    packed = worker_environments(["0", "1"], per_device=3, parent={"CUDA_VISIBLE_DEVICES": "4,5", "X": "1"})
    assert [d for d, _ in packed] == ["0"] * 3 + ["1"] * 3
    assert [e["CUDA_VISIBLE_DEVICES"] for _, e in packed] == ["4"] * 3 + ["5"] * 3  # SLURM's GPUs 4 and 5
    assert all(e["X"] == "1" for _, e in packed)
    assert [e["CUDA_VISIBLE_DEVICES"] for _, e in worker_environments(["0", "2"], parent={})] == ["0", "2"]
    cpu = worker_environments(["cpu"], per_device=2, parent={})
    assert [e["CUDA_VISIBLE_DEVICES"] for _, e in cpu] == ["", ""]
    with pytest.raises(ValueError, match="GPU 2 is not visible"):
        worker_environments(["2"], parent={"CUDA_VISIBLE_DEVICES": "4,5"})
    with pytest.raises(ValueError, match="per-device"):
        worker_environments(["0"], per_device=0, parent={})
    with pytest.raises(ValueError, match="--devices"):
        worker_environments(["gpu0"], parent={})


@pytest.mark.slow
def test_packed_workers_on_one_device_train_each_smoke_run_once(tmp_path: Path) -> None:
    dirs = ["--results-dir", str(tmp_path / "r"), "--checkpoint-dir", str(tmp_path / "c"),
            "--runs-dir", str(tmp_path / "n")]
    cmd = [sys.executable, "-m", "cifarlib", "sweep", "smoke", "--devices", "cpu", "--per-device", "3", *dirs]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("worker on device cpu") == 3
    started = Counter(re.findall(r"^\[\d+/\d+\] (\S+)$", out.stdout, flags=re.M))
    assert sorted(started) == ["smoke/eca_resnet20-default-s0", "smoke/resnet20-default-s0"]
    assert set(started.values()) == {1}, started
    assert len(list((tmp_path / "r").rglob("*.json"))) == 2
    assert not list((tmp_path / "c" / "claims").rglob("*.lock"))


def test_run_spec_tears_the_process_group_down_even_when_the_run_fails(monkeypatch) -> None:
    from cifarlib import distributed, runner
    from cifarlib.engine import TrainConfig
    from cifarlib.params import RunSpec

    cleaned = []
    monkeypatch.setattr(distributed, "cleanup", lambda env: cleaned.append(env))

    def fail(*_a, **_k):
        raise RuntimeError("a failed run")

    monkeypatch.setattr(runner, "run_training", fail)
    with pytest.raises(RuntimeError, match="a failed run"):
        runner.run_spec(RunSpec(config=TrainConfig()))
    assert len(cleaned) == 1
