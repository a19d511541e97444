"""The GPU proof script stays alive on a CPU: ``gpu_check.sh --device cpu --quick`` runs every
step at toy size, appends a JSON line per result and per step, and ends with a summary."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cifarlib.models import list_models

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"
STEPS = ["env", "one_step", "throughput", "packed", "resume", "ddp", "fp16_ema_mixup"]


def run_check(out: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), "--device", "cpu", "--quick"], capture_output=True, text=True,
                          env={**os.environ, "OUT": str(out), **env}, timeout=1800)


def test_an_output_folder_in_use_is_refused(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("an earlier check")
    run = run_check(tmp_path)
    assert run.returncode == 2 and "not empty" in run.stderr
    assert not (tmp_path / "results.jsonl").exists()


@pytest.mark.slow
def test_quick_cpu_check_runs_every_step(tmp_path: Path) -> None:
    out = tmp_path / "check"
    run = run_check(out, OMP_NUM_THREADS="1", GPU_CHECK_STEP_TIMEOUT="900")
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    done = {r["step"][:-5]: r for r in rows if r["step"].endswith("_done")}
    assert list(done) == STEPS and all(r["ok"] for r in done.values()), done
    results = [r for r in rows if not r["step"].endswith("_done")]
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    assert sorted(r["model"] for r in results if r["step"] == "one_step") == sorted(list_models())
    assert {r["mode"] for r in results if r["step"] == "throughput"} == {"eager", "default", "reduce-overhead"}
    assert [r["runs"] for r in results if r["step"] == "packed"] == [1, 2]
    (resume,) = [r for r in results if r["step"] == "resume"]
    assert resume["resumed_from_epoch"] >= 2
    assert [r["processes"] for r in results if r["step"] == "ddp"] == [1, 2]
    assert [r["step"] for r in results].count("fp16_ema_mixup") == 1
    summary = (out / "summary.txt").read_text()
    assert summary in run.stdout and f"{len(rows)} result lines, 0 failed" in summary


@pytest.mark.slow
def test_steps_cut_by_their_time_limit_are_recorded_and_the_check_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "check"
    run = run_check(out, GPU_CHECK_STEP_TIMEOUT="1")
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    done = [r for r in rows if r["step"].endswith("_done")]
    assert [r["step"][:-5] for r in done] == STEPS  # every step was tried, in order
    assert all(r["ok"] == (r["rc"] == 0) and r["timed_out"] == (r["rc"] in (124, 137)) for r in done)
    assert (out / "summary.txt").exists()
    assert run.returncode == (1 if any(not r["ok"] for r in done) else 0)
