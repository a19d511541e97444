"""Issue 23 item 4: ``val_split``, a class-balanced validation hold-out from the training split,
the same images for every seed and arm, scored every way the test set is; its default (0) keeps
every committed record and checkpoint current."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from cifarlib.data import VAL_SPLIT_SEED, load_dataset
from cifarlib.engine import TrainConfig, same_config, train
from cifarlib.results import load_details, read_record, unpack_bits
from cifarlib.runner import record_differences, run_training
from helpers import Interrupt, stop_after, tiny_data


def quick_config(**kw) -> TrainConfig:
    base = dict(model="eca_resnet8", dataset="unused", epochs=2, batch_size=8, eval_batch_size=16, lr=0.05,
                label_smoothing=0.0, amp="off", channels_last="off", seed=0, device="cpu")
    return TrainConfig(**{**base, **kw})


def _rows(x: torch.Tensor) -> set[bytes]:
    return {img.numpy().tobytes() for img in x}


def test_the_hold_out_is_class_balanced_fixed_across_seeds_and_never_trained_on(generated_root: Path) -> None:
    data = load_dataset("cifar100", generated_root)  # 10 training images per class
    a, b = data.subset(seed=0, val=300), data.subset(seed=7, val=300)
    assert a.val_y.bincount(minlength=100).tolist() == [3] * 100
    assert torch.equal(a.val_x, b.val_x) and torch.equal(a.val_y, b.val_y)  # the run's seed plays no part
    assert len(a.train_y) == 700 and not _rows(a.val_x) & _rows(a.train_x)
    assert _rows(a.val_x) | _rows(a.train_x) == _rows(data.train_x)
    info = a.info["val_split"]
    assert info == {"images": 300, "per_class": 3, "seed": VAL_SPLIT_SEED, "index_sha": b.info["val_split"]["index_sha"]}
    # train_subset is drawn from what is left, with the run's seed; the hold-out stays put
    c, d = data.subset(train=200, seed=0, val=300), data.subset(train=200, seed=7, val=300)
    assert torch.equal(c.val_x, a.val_x) and not _rows(c.train_x) & _rows(c.val_x)
    assert c.train_y.bincount().tolist() == [2] * 100 and not torch.equal(c.train_x, d.train_x)
    # val 0 is the data of before: no hold-out, no new info
    plain = data.subset(train=500, test=200, seed=3)
    assert plain.val_x is None and "val_split" not in plain.info and len(plain.train_y) == 500


@pytest.mark.parametrize("value,message", [
    (150, r"val_split: 150; it must be a positive multiple of the 100 classes .* e\.g\. 100 or 200"),
    (1000, r"val_split: 1000; it must be smaller than the 1000 training images .* hold out fewer"),
])
def test_a_hold_out_the_data_cannot_give_names_val_split_and_the_fix(generated_root: Path, value: int,
                                                                    message: str) -> None:
    data = load_dataset("cifar100", generated_root)
    with pytest.raises(ValueError, match=message):
        data.subset(val=value)


def test_a_hold_out_that_would_empty_a_class_is_refused() -> None:
    data = tiny_data(n_per_class=6, classes=4)
    keep = torch.ones(len(data.train_y), dtype=torch.bool)
    keep[:4] = False  # class 0 keeps 2 training images, the others 6
    data.train_x, data.train_y = data.train_x[keep], data.train_y[keep]
    with pytest.raises(ValueError, match=r"bad value for val_split: 8 holds out 2 images per class, but class 0 "
                                         r"has only 2 training images .* hold out fewer than 8"):
        data.subset(val=8)
    assert data.subset(val=4).val_y.tolist() == [0, 1, 2, 3]


def test_a_negative_val_split_fails_validation() -> None:
    with pytest.raises(ValueError, match=r"bad value for val_split: -10; allowed: an integer >= 0"):
        quick_config(val_split=-10).validate()


def test_the_run_scores_the_hold_out_every_way_it_scores_the_test_set() -> None:
    data = tiny_data(noise=60)  # 4 classes x 8 images
    result = train(quick_config(val_split=8, ema_decay=0.9, tta="none"), data=data, progress=False)
    assert set(result.val_views) == set(result.eval_views) == {"model", "model+flip", "ema", "ema+flip"}
    assert result.val_final is result.val_views["ema"]  # EMA on, no TTA: the reported view
    for view in result.val_views.values():
        assert view.images == 8 and view.top1 == pytest.approx(100 * view.correct.float().mean().item())
    assert [sorted(k for k in row if k.startswith("val_")) for row in result.history] == \
        [["val_loss", "val_top1", "val_top5"]] * 2
    assert result.history[-1]["val_top1"] == result.val_final.top1  # the last epoch's weights, as for the test set
    assert result.data_info["train_images"] == 24 and result.data_info["val_images"] == 8
    flipped = train(quick_config(val_split=8, ema_decay=0.9, tta="flip"), data=data, progress=False)
    assert flipped.val_final.top1 == flipped.val_views["ema+flip"].top1
    assert {k: v.top1 for k, v in flipped.val_views.items()} == {k: v.top1 for k, v in result.val_views.items()}
    seeded = train(quick_config(val_split=8, seed=1, epochs=1), data=data, progress=False)
    assert seeded.data_info["val_split"] == result.data_info["val_split"]  # the same images for every seed
    assert set(seeded.val_views) == {"model", "model+flip"}  # no EMA: the views the test set gets


def test_no_hold_out_leaves_the_run_as_it_was() -> None:
    data = tiny_data()
    result = train(quick_config(epochs=1), data=data, progress=False)
    assert result.val_views == {} and result.val_final is None
    assert not any(k.startswith("val") for k in result.history[0]) and "val_split" not in result.data_info


def test_a_run_with_a_hold_out_resumes_exactly(tmp_path: Path) -> None:
    data, config = tiny_data(), quick_config(epochs=3, val_split=8)
    straight = train(config, data=data, checkpoint=tmp_path / "a.pt", progress=False)
    with pytest.raises(Interrupt):
        train(config, data=data, checkpoint=tmp_path / "b.pt", on_epoch=stop_after(1), progress=False)
    resumed = train(config, data=data, checkpoint=tmp_path / "b.pt", progress=False)
    assert resumed.resumed_from_epoch == 1 and resumed.history == [
        {**row, "epoch_seconds": r["epoch_seconds"]} for row, r in zip(straight.history, resumed.history)]
    with pytest.raises(ValueError, match="different config"):  # another hold-out is another run
        train(quick_config(epochs=3, val_split=4), data=data, checkpoint=tmp_path / "b.pt", progress=False)


def test_records_and_checkpoints_without_the_field_stay_current() -> None:
    config = quick_config()
    old = {k: v for k, v in asdict(config).items() if k != "val_split"}  # written before val_split existed
    assert record_differences({"config": old, "data": {"fingerprint": "f"}}, asdict(config), "f") == []
    assert same_config(json.dumps(old), config)
    held = quick_config(val_split=8)
    assert record_differences({"config": old, "data": {}}, asdict(held), "f") == ["val_split: '<absent>' -> 8"]
    assert not same_config(json.dumps(old), held)


def test_the_record_stores_the_hold_out_beside_the_test_numbers(tmp_path: Path, generated_root: Path) -> None:
    config = quick_config(dataset="cifar100", data_root=str(generated_root), epochs=1, batch_size=100,
                          val_split=200, ema_decay=0.9, tta="none")
    record = run_training(config, "e", results_dir=tmp_path / "r", checkpoint_dir=tmp_path / "c",
                          progress=False, log=lambda *_: None)
    path = tmp_path / "r" / "cifar100-generated" / "e" / "eca_resnet8-default-s0.json"
    assert read_record(path) == json.loads(path.read_text()) == json.loads(json.dumps(record))
    val, data = record["val"], record["data"]
    assert data["train_images"] == 800 and data["val_images"] == 200
    assert data["val_split"]["images"] == 200 and data["val_split"]["seed"] == VAL_SPLIT_SEED
    assert val["images"] == 200 and val["top1"] == val["views"]["ema"]
    assert set(val["views"]) == set(record["eval_views"])
    bits = {name: unpack_bits({"images": 200, "bits": b}) for name, b in val["correct"]["views"].items()}
    assert np.array_equal(unpack_bits(val["correct"]), bits["ema"])
    for name, correct in bits.items():
        assert val["views"][name] == pytest.approx(100 * correct.mean())
    (detail,) = load_details(tmp_path / "r")
    assert detail["val"] == val
    from cifarlib.report.run_page import run_summary

    shown = dict(run_summary(record).values.tolist())
    assert shown["验证集 top-1"] == f"{val['top1']:.2f}%（从训练集留出的 200 张）"
    # the same config again is the same run: the record is reused, nothing trains
    again = run_training(config, "e", results_dir=tmp_path / "r", checkpoint_dir=tmp_path / "c",
                         progress=False, log=lambda *_: None)
    assert again == record


def test_a_bad_hold_out_fails_before_anything_is_written(tmp_path: Path, generated_root: Path) -> None:
    config = quick_config(dataset="cifar100", data_root=str(generated_root), epochs=1, val_split=250)
    with pytest.raises(ValueError, match="val_split: 250"):
        run_training(config, "e", results_dir=tmp_path / "r", checkpoint_dir=tmp_path / "c",
                     progress=False, log=lambda *_: None)
    assert not list((tmp_path / "r").rglob("*.*"))
