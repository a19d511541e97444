"""The papermill path: train.ipynb writes a valid record; the sweep skips and resumes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from cifarlib.results import load_runs, read_record
from cifarlib.sweep import plan_runs, run_sweep

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_papermill_smoke_run_writes_a_valid_record(generated_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(REPO / "notebooks" / "train.ipynb"), str(out), kernel_name="python3", progress_bar=False,
        parameters=dict(model="eca_resnet20", epochs=1, dataset="cifar100", data_root=str(generated_root),
                        batch_size=100, experiment="nbtest", results_dir=str(tmp_path / "results"),
                        checkpoint_dir=str(tmp_path / "ckpt"),
                        model_kwargs={"attn_position": "post_add", "kernel_size": 5}, variant="post_k5"),
        cwd=str(REPO),
    )
    path = tmp_path / "results" / "cifar100-generated" / "nbtest" / "eca_resnet20-post_k5-s0.json"
    record = read_record(path)
    assert record["config"]["model_kwargs"] == {"attn_position": "post_add", "kernel_size": 5}
    assert record["model_info"]["params"] == 278324 + 9 * 5  # nine ECA modules with k=5
    text = out.read_text()
    assert "测试集 top-1" in text and "image/png" in text  # table and curves were shown


def test_papermill_bad_model_fails_cleanly(generated_root: Path, tmp_path: Path) -> None:
    with pytest.raises(pm.PapermillExecutionError, match="Valid names"):
        pm.execute_notebook(
            str(REPO / "notebooks" / "train.ipynb"), str(tmp_path / "o.ipynb"), kernel_name="python3",
            progress_bar=False, cwd=str(REPO),
            parameters=dict(model="resnet21", dataset="cifar100", data_root=str(generated_root),
                            results_dir=str(tmp_path / "results"), checkpoint_dir=str(tmp_path / "ckpt")),
        )
    assert not (tmp_path / "results").exists() and not (tmp_path / "ckpt").exists()


def test_smoke_sweep_runs_then_skips(tmp_path: Path) -> None:
    dirs = ["--results-dir", str(tmp_path / "r"), "--checkpoint-dir", str(tmp_path / "c"),
            "--runs-dir", str(tmp_path / "n")]
    cmd = [sys.executable, "-m", "cifarlib", "sweep", "smoke", *dirs]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    runs = load_runs(tmp_path / "r")
    assert sorted(runs["model"]) == ["eca_resnet20", "resnet20"]
    assert len(list((tmp_path / "n").rglob("*.ipynb"))) == 2
    assert sorted(p.name for p in (tmp_path / "n").rglob("*")if p.is_file()) == [
        "eca_resnet20-default-s0.ipynb", "resnet20-default-s0.ipynb"]
    executed = nbformat.read(tmp_path / "n" / "cifar100-generated" / "smoke" / "resnet20-default-s0.ipynb", 4)
    assert executed.cells[0].source.startswith("# 运行 cifar100-generated / smoke / resnet20-default-s0\n")
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert second.returncode == 0 and "0 of 2 runs to do" in second.stdout


def test_sweep_resumes_an_interrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint left by an interrupted run is picked up: the record says where it resumed."""
    import cifarlib.sweep as sweep
    from cifarlib.engine import train

    run = [r for r in plan_runs("smoke") if r.model == "resnet20"][0]
    sweep.prepare_data("smoke")
    from cifarlib.runner import run_paths

    paths = run_paths(run.config, run.experiment, run.variant, tmp_path / "r", tmp_path / "c")

    class Interrupt(Exception):
        pass

    def stop(row: dict) -> None:
        raise Interrupt

    monkeypatch.chdir(REPO)
    with pytest.raises(Interrupt):
        train(run.config, checkpoint=paths.checkpoint, on_epoch=stop, progress=False)
    run_sweep("smoke", results_dir=tmp_path / "r", checkpoint_dir=tmp_path / "c",
              runs_dir=tmp_path / "n", only=["resnet20"], log=lambda *_: None)
    assert read_record(paths.record)["resumed_from_epoch"] == 1


def test_cli_reports_unknown_preset_and_model(tmp_path: Path) -> None:
    bad = subprocess.run([sys.executable, "-m", "cifarlib", "sweep", "nope"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "smoke" in bad.stderr and "offline" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "cifarlib", "train", "-p", "model", "resnet21"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "resnet20" in bad.stderr


def test_plan_presets_expand() -> None:
    assert {r.model for r in plan_runs("offline")} == {"resnet20", "eca_resnet20"}
    full = plan_runs("full")
    keys = {(r.experiment, r.model, r.variant) for r in full}
    assert len(full) == 3 * len(keys) == len({(r.experiment, r.model, r.variant, r.seed) for r in full})
    from cifarlib.models import list_models

    # every registered model except the backbone's resnet32 is in the full study
    assert {r.model for r in full} == set(list_models()) - {"resnet32"}
    adamw = {r.model for r in full if r.config.optimizer == "adamw"}
    assert adamw == {"convnext_tiny", "segnext_mscan_t", "lsknet_t", "coatnet_0", "hornet_tiny", "mixer_s4"}
    assert {r.experiment for r in full} >= {"main", "main_iso", "full_size", "ablation_eca_k", "ablation_position",
                                            "ablation_ghost_ratio", "ablation_ls"}
