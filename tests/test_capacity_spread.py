"""The overview's and the methods index's capacity numbers come from the registry and the plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cifarlib.models import create_model, methods
from cifarlib.profile import count_parameters
from cifarlib.report import capacity_spread
from cifarlib.report.per_class_accuracy import class_support


def _params_m(name: str, num_classes: int) -> float:
    return count_parameters(create_model(name, num_classes=num_classes)) / 1e6


def test_spread_is_the_smallest_and_largest_listed_graft() -> None:
    spread = capacity_spread.graft_capacity_spread()
    counts = {m.graft: _params_m(m.graft, 100) for m in methods.METHODS}
    assert spread.smallest_params_m == min(counts.values()) == counts[spread.smallest]
    assert spread.largest_params_m == max(counts.values()) == counts[spread.largest]
    assert spread.backbone == "resnet20" and spread.backbone_params_m == _params_m("resnet20", 100)
    assert spread.ratio == pytest.approx(spread.largest_params_m / spread.smallest_params_m)
    # the heads' 100 vs 10 outputs move the ratio (3.5x vs 3.66x): the class count is part of the number
    assert capacity_spread.graft_capacity_spread(10).ratio != pytest.approx(spread.ratio, abs=0.05)


def test_spread_sentence_prints_the_computed_numbers() -> None:
    spread = capacity_spread.CapacitySpread("a_resnet20", 0.1, "b_resnet20", 0.35, "resnet20", 0.278, 100)
    text = capacity_spread.spread_sentence(spread)
    assert "`a_resnet20` 的 0.100M" in text and "`b_resnet20` 的 0.350M" in text
    assert "相差约 3.5 倍" in text and "`resnet20` 是 0.278M" in text


def test_iso_tolerance_is_the_iso_module_constant(monkeypatch: pytest.MonkeyPatch) -> None:
    assert capacity_spread.iso_tolerance_percent() == "5%"
    monkeypatch.setattr(capacity_spread, "ISO_TOLERANCE", 0.1)
    assert capacity_spread.iso_tolerance_percent() == "10%"


def test_single_seed_grafts_counts_models_with_one_planned_seed() -> None:
    planned = pd.DataFrame({"experiment": ["main"] * 5 + ["other"],
                            "model": ["a", "a", "b", "c", "c", "d"], "seed": [0, 1, 0, 0, 0, 0]})
    assert capacity_spread.single_seed_grafts(planned) == 2  # b, and c planned twice with the same seed
    with pytest.raises(ValueError, match="no experiment 'absent'"):
        capacity_spread.single_seed_grafts(planned, "absent")


def test_class_support_reads_the_confusion_rows() -> None:
    balanced = {"experiment": "main", "confusion": np.full((3, 3), 5).tolist()}
    skewed = {"experiment": "ablation", "confusion": [[7, 0], [1, 1]]}
    assert class_support([balanced]) == [15]
    assert class_support([balanced, skewed]) == [2, 7, 15]
    assert class_support([balanced, skewed], {"main"}) == [15]
    assert class_support([{"experiment": "main", "confusion": None}]) == []
