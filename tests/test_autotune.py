"""The measured execution policy: choice, candidates, cache, and that every policy trains the same function."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cifarlib import autotune
from cifarlib.autotune import Candidate, choose, candidates, resolve_policy
from cifarlib.engine import TrainConfig, train
from cifarlib.models import create_model

from helpers import tiny_data

CPU = torch.device("cpu")


def test_choose_picks_the_fastest_of_the_given_timings() -> None:
    timings = {Candidate("fp32", False): 0.30, Candidate("bf16", True): 0.12, Candidate("bf16", False): 0.20}
    assert choose(timings) == Candidate("bf16", True)
    timings[Candidate("fp32", True)] = 0.05
    assert choose(timings) == Candidate("fp32", True)
    with pytest.raises(ValueError):
        choose({})


@pytest.fixture
def native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests of the measured choice assume a CPU with native bf16 (both precisions open)."""
    monkeypatch.setattr(autotune, "cpu_has_native_bf16", lambda: True)


def test_explicit_settings_fix_their_axis(native_bf16: None) -> None:
    assert len(candidates("auto", "auto", CPU)) == 4
    assert candidates("off", "auto", CPU) == [Candidate("fp32", False), Candidate("fp32", True)]
    assert candidates("bf16", "on", CPU) == [Candidate("bf16", True)]


def test_explicit_policy_is_not_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(autotune, "time_candidate", lambda *a, **k: pytest.fail("measured"))
    policy = resolve_policy("off", "off", "resnet20", {}, lambda: None, 8, (3, 32, 32), 10, CPU, "cpu")
    assert (policy.precision, policy.channels_last, policy.source) == ("fp32", False, "explicit")


def test_bf16_is_no_candidate_on_a_cpu_without_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(autotune, "cpu_has_native_bf16", lambda: False)
    assert candidates("auto", "auto", CPU) == [Candidate("fp32", False), Candidate("fp32", True)]
    assert candidates("bf16", "auto", CPU) == [Candidate("bf16", False), Candidate("bf16", True)]  # asked for
    monkeypatch.setattr(autotune, "cpu_has_native_bf16", lambda: True)
    assert {c.precision for c in candidates("auto", "auto", CPU)} == {"fp32", "bf16"}


def test_measured_policy_is_the_fastest_and_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      native_bf16: None) -> None:
    monkeypatch.setenv("CIFARLIB_CACHE", str(tmp_path))
    fake = {"fp32/NCHW": 0.4, "fp32/channels_last": 0.3, "bf16/NCHW": 0.2, "bf16/channels_last": 0.25}
    monkeypatch.setattr(autotune, "time_candidate", lambda build, c, *a, **k: fake[c.label])
    args = ("auto", "auto", "resnet20", {}, lambda: None, 8, (3, 32, 32), 10, CPU, "Some CPU (1 threads)")
    first = resolve_policy(*args)
    assert (first.precision, first.channels_last, first.source) == ("bf16", False, "measured")
    assert first.seconds_per_step == fake
    monkeypatch.setattr(autotune, "time_candidate", lambda *a, **k: pytest.fail("measured twice"))
    second = resolve_policy(*args)
    assert (second.precision, second.channels_last, second.source) == ("bf16", False, "cached")


@pytest.mark.times_policy
def test_time_candidate_measures_a_real_step() -> None:
    seconds = autotune.time_candidate(lambda: create_model("eca_resnet8", num_classes=4), Candidate("fp32", True),
                                      4, (3, 32, 32), 4, CPU, steps=1, warmup=1)
    assert seconds > 0


@pytest.mark.parametrize("amp,channels_last", [("bf16", "off"), ("off", "on"), ("bf16", "on")])
def test_every_policy_trains_the_same_function(amp: str, channels_last: str) -> None:
    base = dict(model="eca_resnet8", dataset="unused", epochs=2, batch_size=8, eval_batch_size=16, lr=0.05,
                label_smoothing=0.0, seed=0, device="cpu")
    reference = train(TrainConfig(**base, amp="off", channels_last="off"), data=tiny_data(), progress=False)
    other = train(TrainConfig(**base, amp=amp, channels_last=channels_last), data=tiny_data(), progress=False)
    assert other.execution_policy["source"] == "explicit"
    for a, b in zip(reference.history, other.history):
        tol = 0.05 if amp == "bf16" else 1e-3  # bf16 keeps ~3 significant digits
        assert abs(a["train_loss"] - b["train_loss"]) < tol * max(1.0, a["train_loss"])
    if amp == "off":  # fp32 in either memory format: the same numbers up to summation order
        assert abs(reference.final.loss - other.final.loss) < 1e-2


FAKE = {"fp32/NCHW": 0.4, "fp32/channels_last": 0.3, "bf16/NCHW": 0.2, "bf16/channels_last": 0.25}
ARGS = ("auto", "auto", "resnet20", {}, lambda: None, 8, (3, 32, 32), 10, CPU, "Some CPU (1 threads)")


@pytest.mark.parametrize("content", ["[]", "null", '"fp64"', "{not json",
                                     '{"precision": "fp64", "channels_last": false, "seconds_per_step": {}}',
                                     '{"precision": "bf16", "channels_last": "no", "seconds_per_step": {}}',
                                     '{"precision": "bf16", "channels_last": false, "seconds_per_step": null}'])
def test_a_damaged_cache_entry_is_named_and_measured_again(content: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch, native_bf16: None) -> None:
    monkeypatch.setenv("CIFARLIB_CACHE", str(tmp_path))
    monkeypatch.setattr(autotune, "time_candidate", lambda build, c, *a, **k: FAKE[c.label])
    resolve_policy(*ARGS)  # writes the entry, then damaged below
    (path,) = (tmp_path / "autotune").glob("*.json")
    path.write_text(content)
    with pytest.warns(UserWarning, match=f"{path.name}.*damaged"):
        policy = resolve_policy(*ARGS)
    assert (policy.precision, policy.channels_last, policy.source) == ("bf16", False, "measured")
    assert resolve_policy(*ARGS).source == "cached"  # the entry was rewritten


def test_an_unwritable_cache_folder_warns_and_the_run_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              native_bf16: None) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("CIFARLIB_CACHE", str(blocked))  # <file>/autotune cannot be created, even as root
    monkeypatch.setattr(autotune, "time_candidate", lambda build, c, *a, **k: FAKE[c.label])
    with pytest.warns(UserWarning, match="cannot be written.*CIFARLIB_CACHE"):
        policy = resolve_policy(*ARGS)
    assert (policy.precision, policy.channels_last, policy.source) == ("bf16", False, "measured")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_timing_runs_back_to_back_steps_between_cuda_events() -> None:
    seconds = autotune.time_candidate(lambda: create_model("resnet20", num_classes=10), Candidate("bf16", True),
                                      128, (3, 32, 32), 10, torch.device("cuda"))
    assert 0 < seconds < 1
