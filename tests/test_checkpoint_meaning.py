"""What a checkpoint means: the policy and data its epochs ran with, and nothing executable.

A resume on another machine keeps the checkpoint's execution policy (no re-measurement that
could switch precision or memory format half-way); a resume on other data is refused; a
checkpoint is read with ``weights_only=True`` onto the CPU, so a planted pickle payload is not
run and the RNG states stay CPU ByteTensors whatever device the run uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cifarlib import engine
from cifarlib.autotune import Policy
from cifarlib.engine import CheckpointError, TrainConfig, load_checkpoint, train
from helpers import Interrupt, stop_after, tiny_data


def config(**kw) -> TrainConfig:
    base = dict(model="resnet20", dataset="unused", epochs=2, batch_size=8, eval_batch_size=16, lr=0.05,
                label_smoothing=0.0, amp="off", channels_last="auto", seed=0, device="cpu")
    return TrainConfig(**{**base, **kw})


def measured(channels_last: bool) -> Policy:
    return Policy("fp32", channels_last, "measured", {"fp32/NCHW": 1.0, "fp32/channels_last": 2.0})


def test_resume_keeps_the_checkpoints_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """First machine: the (faked) measurement picks NCHW; the resuming machine would pick
    channels_last. The resumed run uses NCHW and ends exactly where the uninterrupted one does."""
    data = tiny_data()
    monkeypatch.setattr(engine, "execution_policy", lambda *a: measured(False))
    straight = train(config(), data=data, checkpoint=tmp_path / "a.pt", progress=False)
    with pytest.raises(Interrupt):
        train(config(), data=data, checkpoint=tmp_path / "b.pt", on_epoch=stop_after(1), progress=False)
    assert load_checkpoint(tmp_path / "b.pt")["execution_policy"]["channels_last"] is False

    def other_machine(*args):
        raise AssertionError("a resumed run must not measure its policy again")

    monkeypatch.setattr(engine, "execution_policy", other_machine)
    resumed = train(config(), data=data, checkpoint=tmp_path / "b.pt", progress=False)
    assert resumed.resumed_from_epoch == 1
    assert resumed.execution_policy == measured(False).as_record()
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]
    assert resumed.final.loss == straight.final.loss


def test_resume_on_changed_data_is_refused(tmp_path: Path) -> None:
    pinned = config(channels_last="off")
    with pytest.raises(Interrupt):
        train(pinned, data=tiny_data(), checkpoint=tmp_path / "c.pt", on_epoch=stop_after(1), progress=False)
    more = tiny_data(n_per_class=9)  # ten more images under the same name
    with pytest.raises(ValueError, match=r"c\.pt was trained on other data .*restart True"):
        train(pinned, data=more, checkpoint=tmp_path / "c.pt", progress=False)
    assert load_checkpoint(tmp_path / "c.pt")["epoch"] == 1  # refused, not overwritten


class _Payload:
    """Unpickling this runs ``Path(marker).touch()``: what a planted checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_planted_checkpoint_payload_is_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    planted = tmp_path / "planted.pt"
    torch.save({"fingerprint": "{}", "epoch": 1, "model": _Payload(marker)}, planted)
    with pytest.raises(CheckpointError, match=r"planted\.pt cannot be read: .*could run code.*restart True"):
        train(config(channels_last="off"), data=tiny_data(), checkpoint=planted, progress=False)
    assert not marker.exists()


def test_checkpoint_with_a_non_string_fingerprint_is_named(tmp_path: Path) -> None:
    path = tmp_path / "odd.pt"
    torch.save({"fingerprint": 3, "epoch": 1}, path)
    with pytest.raises(CheckpointError, match=r"odd\.pt cannot be read .*fingerprint is a int"):
        load_checkpoint(path)


def test_checkpoint_loads_onto_the_cpu_with_cpu_rng_states(tmp_path: Path) -> None:
    """``torch.set_rng_state`` / ``torch.cuda.set_rng_state`` take CPU ByteTensors only: a load
    mapped to the run's device (``map_location=cuda``) broke every resume on a GPU."""
    with pytest.raises(Interrupt):
        train(config(channels_last="off"), data=tiny_data(), checkpoint=tmp_path / "d.pt",
              on_epoch=stop_after(1), progress=False)
    saved = load_checkpoint(tmp_path / "d.pt")
    assert saved["rng_cpu"].device.type == "cpu" and saved["rng_cpu"].dtype == torch.uint8
    assert all(t.device.type == "cpu" for t in saved["model"].values())
    assert isinstance(saved["data_fingerprint"], str)
