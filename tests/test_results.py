"""Run records: round trip, validation, atomic writes, DataFrame loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cifarlib.engine import TrainConfig
from cifarlib.results import load_histories, load_per_class, load_runs, read_record, write_record
from cifarlib.runner import dataset_tag, run_paths, run_training


@pytest.fixture(scope="module")
def record(generated_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("runs")
    config = TrainConfig(model="resnet20", dataset="cifar100", data_root=str(generated_root),
                         epochs=2, batch_size=100, train_subset=500, test_subset=200, device="cpu")
    rec = run_training(config, "unit", "default", out / "results", out / "ckpt", progress=False)
    rec["_dir"] = str(out)
    return rec


def test_record_has_everything(record: dict) -> None:
    assert record["dataset"] == "cifar100-generated"
    assert record["run"] == "resnet20-default-s0"
    assert len(record["history"]) == 2
    assert set(record["history"][0]) >= {"epoch", "train_loss", "test_top1", "test_top5", "lr"}
    assert 0 <= record["final"]["test_top1"] <= record["final"]["test_top5"] <= 100
    assert len(record["per_class_accuracy"]) == 100
    assert record["model_info"]["params"] == 278324
    assert record["model_info"]["flops"] > 0
    assert record["throughput"]["train_images_per_s"] > 0
    assert record["wall_time_s"] > 0
    prov = record["provenance"]
    for key in ("git_commit", "git_dirty", "python", "torch", "torchvision", "timm", "device", "date"):
        assert key in prov
    assert record["data"]["train_images"] == 500 and record["data"]["test_images"] == 200


def test_record_round_trips(record: dict, tmp_path: Path) -> None:
    rec = {k: v for k, v in record.items() if k != "_dir"}
    path = write_record(rec, tmp_path / "r.json")
    assert read_record(path) == json.loads(json.dumps(rec))
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_invalid_record_is_not_written(record: dict, tmp_path: Path) -> None:
    rec = {k: v for k, v in record.items() if k not in ("_dir", "final")}
    with pytest.raises(ValueError, match="final"):
        write_record(rec, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def test_load_runs_and_histories(record: dict) -> None:
    results = Path(record["_dir"]) / "results"
    runs = load_runs(results)
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["model"] == "resnet20" and row["experiment"] == "unit" and row["epochs"] == 2
    assert row["test_top1"] == record["final"]["test_top1"]
    assert row["params_m"] == pytest.approx(0.278324)
    hist = load_histories(results)
    assert list(hist["epoch"]) == [1, 2] and set(hist["model"]) == {"resnet20"}
    per_class = load_per_class(results)
    assert len(per_class) == 100


def test_existing_record_is_reused_not_retrained(record: dict, generated_root: Path) -> None:
    out = Path(record["_dir"])
    config = TrainConfig(model="resnet20", dataset="cifar100", data_root=str(generated_root),
                         epochs=2, batch_size=100, train_subset=500, test_subset=200, device="cpu")
    again = run_training(config, "unit", "default", out / "results", out / "ckpt", progress=False)
    assert again["provenance"]["date"] == record["provenance"]["date"]


def test_bad_input_leaves_nothing_behind(generated_root: Path, tmp_path: Path) -> None:
    cases = [
        (dict(model="nope"), KeyError),
        (dict(schedule="step"), ValueError),
        (dict(model="eca_resnet20", model_kwargs={"attn_position": "middle"}), ValueError),
        (dict(data_root=str(tmp_path / "no-data")), FileNotFoundError),
    ]
    for overrides, error in cases:
        values = dict(model="resnet20", dataset="cifar100", data_root=str(generated_root), epochs=1)
        config = TrainConfig(**{**values, **overrides})
        with pytest.raises(error):
            run_training(config, "bad", "default", tmp_path / "results", tmp_path / "ckpt", progress=False)
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob("*.pt"))


def test_paths_and_tags(generated_root: Path) -> None:
    assert dataset_tag("folder:/x/cifar10-jpeg.zip") == "cifar10-jpeg"
    assert dataset_tag("cifar100", generated_root) == "cifar100-generated"
    assert dataset_tag("cifar10", generated_root) == "cifar10"
    config = TrainConfig(model="eca_resnet20", dataset="folder:/x/cifar10-jpeg.zip", seed=2)
    paths = run_paths(config, "offline", "k5", "R", "C", "N")
    assert paths.record == Path("R/cifar10-jpeg/offline/eca_resnet20-k5-s2.json")
    assert paths.notebook == Path("N/cifar10-jpeg/offline/eca_resnet20-k5-s2.ipynb")
    with pytest.raises(ValueError, match="variant"):
        run_paths(config, "offline", "k 5")
