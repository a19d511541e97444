"""Logs beside each record: timm's summary.csv and args.yaml, TensorBoard scalars on request."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from cifarlib import run_logs
from cifarlib.engine import TrainConfig
from cifarlib.results import load_runs, read_record, record_paths
from cifarlib.runner import run_paths, run_training


def smoke_config(root: Path, **kw) -> TrainConfig:
    base = dict(model="eca_resnet8", dataset="cifar100", data_root=str(root), epochs=2, batch_size=64,
                eval_batch_size=200, amp="off", channels_last="off", device="cpu", train_subset=300,
                test_subset=100)
    return TrainConfig(**{**base, **kw})


class FakeWriter:
    """Records add_scalar calls as SummaryWriter would write them."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir, self.scalars, self.closed = log_dir, [], False

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, step, value))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_a_run_leaves_summary_csv_and_args_yaml_beside_its_record(generated_root: Path, tmp_path: Path) -> None:
    config = smoke_config(generated_root)
    record = run_training(config, "logs", results_dir=tmp_path / "r", checkpoint_dir=tmp_path / "c",
                          progress=False)
    path = run_paths(config, "logs", results_dir=tmp_path / "r").record
    folder = path.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "eca_resnet8-default-s0.args.yaml", "eca_resnet8-default-s0.json", "eca_resnet8-default-s0.summary.csv"]
    with open(folder / "eca_resnet8-default-s0.summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "train_loss", "eval_loss", "eval_top1", "eval_top5", "lr"]
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["eval_top1"]) == pytest.approx(record["history"][1]["test_top1"])
    assert float(rows[0]["train_loss"]) == pytest.approx(record["history"][0]["train_loss"])
    args = yaml.safe_load((folder / "eca_resnet8-default-s0.args.yaml").read_text())
    assert args["model"] == "eca_resnet8" and args["epochs"] == 2 and args["experiment"] == "logs"
    assert args["tensorboard"] is False and args["download"] == "auto" and args["amp"] == "off"
    # The records' readers see the record alone.
    assert record_paths(tmp_path / "r") == [path]
    assert len(load_runs(tmp_path / "r")) == 1 and read_record(path)["run"] == "eca_resnet8-default-s0"


def test_tensorboard_scalars_per_epoch(generated_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writers: list[FakeWriter] = []
    monkeypatch.setattr(run_logs, "check_tensorboard", lambda: None)
    monkeypatch.setattr(run_logs, "tensorboard_writer", lambda d: writers.append(FakeWriter(d)) or writers[-1])
    monkeypatch.setattr("cifarlib.runner.check_tensorboard", lambda: None)
    config = smoke_config(generated_root, epochs=2)
    run_training(config, "tb", results_dir=tmp_path / "r", checkpoint_dir=tmp_path / "c", progress=False,
                 tensorboard=True)
    (writer,) = writers
    assert writer.log_dir == tmp_path / "r" / "cifar100-generated" / "tb" / "tb" / "eca_resnet8-default-s0"
    tags = {tag for tag, _, _ in writer.scalars}
    assert tags == {"loss/train", "loss/eval", "top1/train", "top1/eval", "top5/eval", "lr", "images_per_s"}
    assert sorted({step for _, step, _ in writer.scalars}) == [1, 2] and writer.closed
    speeds = [v for tag, _, v in writer.scalars if tag == "images_per_s"]
    assert all(v > 0 for v in speeds)


def test_tensorboard_events_are_written(generated_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_training(smoke_config(generated_root, epochs=1), "tb", results_dir=tmp_path / "r",
                 checkpoint_dir=tmp_path / "c", progress=False, tensorboard=True)
    (events,) = (tmp_path / "r").rglob("events.out.tfevents.*")
    acc = EventAccumulator(str(events.parent))
    acc.Reload()
    assert {"loss/train", "top1/eval", "images_per_s"} <= set(acc.Tags()["scalars"])


def test_tensorboard_without_the_package_fails_before_training(generated_root: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(RuntimeError, match=r"cifarlib\[tensorboard\]"):
        run_training(smoke_config(generated_root, epochs=50), "tb", results_dir=tmp_path / "r",
                     checkpoint_dir=tmp_path / "c", progress=False, tensorboard=True)
    assert not list((tmp_path / "r").rglob("*.*"))


def test_a_resumed_run_keeps_the_earlier_rows(tmp_path: Path) -> None:
    record = tmp_path / "run.json"
    row = dict(epoch=1, train_loss=2.0, train_top1=10.0, test_loss=2.1, test_top1=11.0, test_top5=40.0,
               lr=0.1, epoch_seconds=1.0)
    first = run_logs.RunLogger(record)
    first.epoch(row)
    second = run_logs.RunLogger(record)  # a new process after an interruption
    second.epoch({**row, "epoch": 2, "train_loss": 1.5})
    rows = run_logs.read_summary(run_logs.log_paths(record)["summary"])
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["train_loss"] == 1.5
    assert run_logs.epoch_images(500, 64) == 448 and run_logs.epoch_images(40, 64) == 40


def test_sweep_tensorboard_switch_reaches_every_run(generated_root: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import cifarlib.sweep as sweep

    plan = tmp_path / "plan.yaml"
    plan.write_text(f"""presets:
  p:
    dataset: cifar100
    data_root: {generated_root}
    groups:
      - {{experiment: a, models: [resnet20, eca_resnet20]}}
""")
    seen = []
    monkeypatch.setattr(sweep, "execute_train_notebook", lambda params, *a, **k: seen.append(params))
    sweep.run_sweep("p", plan, tmp_path / "r", tmp_path / "c", tmp_path / "n", tensorboard=True, log=lambda m: None)
    assert [p["tensorboard"] for p in seen] == [True, True]
    assert all("tensorboard" not in r.parameters for r in sweep.plan_runs("p", plan))
