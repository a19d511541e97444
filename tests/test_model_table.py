"""`python -m cifarlib models --train`: training images/s under the measured policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from cifarlib.__main__ import main
from cifarlib.profile import model_table


@pytest.mark.times_policy  # its outcome (a policy name from the set) holds whatever the timing
def test_training_throughput_column_names_the_policy(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CIFARLIB_CACHE", str(tmp_path / "cache"))
    table = model_table(["csp_resnet20"], num_classes=10, train_throughput=True, train_batch_size=8)
    row = table.iloc[0]
    assert row["train_images_per_s"] > 0
    assert row["policy"] in {"fp32/NCHW", "fp32/channels_last", "bf16/NCHW", "bf16/channels_last"}
    assert list((tmp_path / "cache" / "autotune").glob("csp_resnet20-*.json"))  # the choice is cached


def test_models_command_writes_a_csv_and_names_the_device(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CIFARLIB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "models.csv"
    assert main(["models", "--family", "backbone", "--seconds", "0.05", "--out", str(out)]) in (0, None)
    printed = capsys.readouterr().out
    assert "throughput measured on" in printed and "resnet56" in printed
    from cifarlib.profile import INFERENCE_AMP, INFERENCE_BATCH_SIZE
    from cifarlib.report.inference_file import InferenceSettings, inference_settings

    # the header records what the inference column was timed with, and the efficiency chapter reads it back
    assert inference_settings(printed) == InferenceSettings(INFERENCE_BATCH_SIZE, INFERENCE_AMP, recorded=True)
    assert out.read_text().splitlines()[0].startswith("model,family,method,params_m,gflops,images_per_s")
