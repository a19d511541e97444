"""The ConvNeXt diagnosis reader: table, differences and the sentence's reading."""

import json
import math
from pathlib import Path

import pandas as pd

from cifarlib.report.convnext_diagnosis import (DIAGNOSIS_FILE, diagnosis_display, diagnosis_sentence, load_diagnosis,
                                         reference_top1)


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps({"model": "convnext_resnet20_iso", "rows": rows}))
    return path


def row(variant: str, change: str, curve: list[float] | None = None) -> dict:
    r = {"variant": variant, "change_zh": change}
    if curve is None:
        r["diverged"] = "training diverged at epoch 1"
    else:
        r["test_top1_by_epoch"] = curve
    return r


def test_table_and_sentence_when_no_switch_closes_the_gap(tmp_path: Path) -> None:
    path = write(tmp_path / "d.json", [row("paper", "默认", [20.0, 30.0]), row("ls1", "层缩放 1", [25.0, 35.0]),
                                       row("bn", "BN", [21.0, 29.0]), row("torch_init_ls1", "初始化", None)])
    table = load_diagnosis(path)
    assert list(table["variant"]) == ["paper", "ls1", "bn", "torch_init_ls1"]
    assert math.isnan(table["top1"].iloc[3]) and table["diverged"].tolist() == [False, False, False, True]
    shown = diagnosis_display(table, reference=45.0)
    assert shown["与默认之差（百分点）"].tolist() == ["—", "+5.00", "-1.00", "—"]
    assert shown["与 resnet20 之差（百分点）"].tolist() == ["-15.00", "-10.00", "-16.00", "—"]
    assert shown["top-1 (%)"].iloc[3].startswith("发散")
    text = diagnosis_sentence(table, 45.0)
    assert "低 15.00 个百分点" in text and "“层缩放 1”，提高 5.00" in text and "33%" in text
    assert "-1.00 到 +5.00" in text and "“初始化”在第 1 轮就发散" in text
    assert "没有哪一种改动单独补回一半的差距" in text and "不在其中" not in text  # no claim beyond this budget
    assert "在这个 2 轮的小预算上" in text  # the budget is the curves' length


def test_sentence_reads_the_budget_and_the_divergence_epoch_from_the_curves(tmp_path: Path) -> None:
    late = row("bn", "BN", [21.0])
    late["diverged"] = "training diverged at epoch 2"
    table = load_diagnosis(write(tmp_path / "d.json", [row("paper", "默认", [20.0, 25.0, 30.0]),
                                                       row("ls1", "层缩放 1", [25.0, 30.0, 35.0]), late]))
    text = diagnosis_sentence(table, 45.0)
    assert "在这个 3 轮的小预算上" in text and "“BN”在第 2 轮就发散" in text


def test_sentence_names_a_switch_that_closes_most_of_the_gap(tmp_path: Path) -> None:
    table = load_diagnosis(write(tmp_path / "d.json", [row("paper", "默认", [30.0]), row("k3", "小核", [42.0])]))
    text = diagnosis_sentence(table, 45.0)
    assert "80%" in text and "“小核”补回了大半差距" in text


def test_missing_inputs(tmp_path: Path) -> None:
    assert load_diagnosis(tmp_path / "absent.json").empty
    assert diagnosis_sentence(load_diagnosis(tmp_path / "absent.json"), 45.0).startswith("排查记录或参考记录缺失")
    runs = pd.DataFrame({"experiment": ["graftcheck", "main"], "model": ["resnet20", "resnet20"], "test_top1": [44.5, 77.0]})
    assert reference_top1(runs) == 44.5
    assert reference_top1(runs.iloc[1:]) is None


def test_committed_diagnosis_has_the_unchanged_graft() -> None:
    table = load_diagnosis(DIAGNOSIS_FILE)
    assert "paper" in set(table["variant"]) and not table["diverged"][table["variant"] == "paper"].iloc[0]
