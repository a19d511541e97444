"""Export a trained run's weights and load them back through torch.hub (hubconf.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cifarlib.data import BatchLoader, load_dataset
from cifarlib.engine import TrainConfig, evaluate
from cifarlib.export import ExportError, export_run
from cifarlib.hub import NO_SHIPPED_WEIGHTS
from cifarlib.models import list_models
from cifarlib.runner import run_paths, run_training

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained(generated_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A smoke run of resnet20 (1 epoch, with an EMA so the export must pick the scored weights)."""
    tmp = tmp_path_factory.mktemp("export")
    config = TrainConfig(model="resnet20", dataset="cifar100", data_root=str(generated_root), epochs=1,
                         batch_size=100, train_subset=300, test_subset=100, amp="off", channels_last="off",
                         device="cpu", ema_decay=0.5)
    record = run_training(config, "hub", results_dir=tmp / "r", checkpoint_dir=tmp / "c", progress=False)
    path = run_paths(config, "hub", results_dir=tmp / "r").record
    return {"config": config, "record": record, "path": path, "tmp": tmp}


def test_export_writes_fp32_weights_and_metadata(trained: dict) -> None:
    tmp = trained["tmp"]
    paths = export_run(trained["path"], tmp / "x", tmp / "c", log=lambda m: None)
    state = torch.load(paths["weights"], weights_only=True)
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())
    assert not any("optimizer" in k or k == "fingerprint" for k in state)  # weights alone
    meta = json.loads(paths["meta"].read_text())
    assert meta["trained_on"]["dataset"] == "cifar100-generated" and meta["num_classes"] == 100
    assert meta["metrics"]["test_top1"] == trained["record"]["final"]["test_top1"]
    assert meta["identity"] == trained["record"]["identity"] and meta["weights"]["ema"] is True
    assert paths["weights"].stat().st_size < 1.5e6  # resnet20: about 1 MB


def test_hub_loads_the_exported_weights_and_scores_as_the_record(trained: dict, generated_root: Path) -> None:
    tmp = trained["tmp"]
    paths = export_run(trained["path"], tmp / "y", tmp / "c", log=lambda m: None)
    model = torch.hub.load(str(REPO), "resnet20", source="local", weights=str(paths["weights"]))
    assert model.cifarlib_weights["trained_on"]["dataset"] == "cifar100-generated"
    config = trained["config"]
    data = load_dataset("cifar100", generated_root).subset(config.train_subset, config.test_subset, config.seed)
    loader = BatchLoader(data.test_x, data.test_y, 100, data.mean, data.std)
    result = evaluate(model, loader, data.num_classes, tta=config.tta)
    assert result.top1 == pytest.approx(trained["record"]["final"]["test_top1"])


def test_hub_builds_every_registered_model_without_weights() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("hubconf", REPO / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    assert set(list_models()) <= {n for n in dir(hubconf) if callable(getattr(hubconf, n)) and not n.startswith("_")}
    model = torch.hub.load(str(REPO), "eca_resnet20", source="local", pretrained=False, num_classes=10)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="ships no trained weights"):
        torch.hub.load(str(REPO), "resnet20", source="local", pretrained=True)
    assert "export" in NO_SHIPPED_WEIGHTS


def test_mismatched_weights_are_refused(trained: dict) -> None:
    tmp = trained["tmp"]
    paths = export_run(trained["path"], tmp / "z", tmp / "c", log=lambda m: None)
    with pytest.raises(ValueError, match="resnet20's, not resnet32's"):
        torch.hub.load(str(REPO), "resnet32", source="local", weights=str(paths["weights"]))
    with pytest.raises(ValueError, match="100 classes, not num_classes=10"):
        torch.hub.load(str(REPO), "resnet20", source="local", weights=str(paths["weights"]), num_classes=10)


def test_export_without_the_checkpoint_says_where_weights_live(
        trained: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from cifarlib.__main__ import main

    monkeypatch.chdir(tmp_path)  # main() moves to the repository root; this restores the cwd
    code = main(["export", str(trained["path"]), "--checkpoint-dir", str(tmp_path / "none"),
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "no checkpoint" in err and "not committed" in err
    assert not (tmp_path / "o").exists()


def test_a_checkpoint_of_an_unfinished_run_is_refused(trained: dict, tmp_path: Path) -> None:
    from cifarlib.export import checkpoint_path

    record = json.loads(trained["path"].read_text())
    saved = torch.load(checkpoint_path(record, trained["tmp"] / "c"), weights_only=True)
    other = tmp_path / "c" / record["dataset"] / record["experiment"] / f"{record['run']}.pt"
    other.parent.mkdir(parents=True)
    torch.save({**saved, "epoch": 0}, other)
    with pytest.raises(ExportError, match="not the finished run"):
        export_run(trained["path"], tmp_path / "o", tmp_path / "c", log=lambda m: None)


def test_onnx_export(trained: dict) -> None:
    pytest.importorskip("onnx")
    paths = export_run(trained["path"], trained["tmp"] / "o", trained["tmp"] / "c", onnx=True, log=lambda m: None)
    assert paths["onnx"].stat().st_size > 100_000
