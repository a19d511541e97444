"""The one rule for full-size models at 32x32: output stride 8, no stochastic depth or dropout
by default, the papers' values available as options (cifarlib.models.adaptation)."""

from __future__ import annotations

import pytest
import torch.nn as nn

from cifarlib.models.adaptation import (
    ISOTROPIC, OUTPUT_STRIDE, PAPER_REGULARISATION, active_regularisation, check_drop_path_rate,
    final_feature_size,
)
from cifarlib.models.registry import create_model, list_models

FULL = list_models(family="full")


def test_every_full_size_model_is_covered() -> None:
    assert len(FULL) == 10 and ISOTROPIC <= set(FULL) and set(PAPER_REGULARISATION) <= set(FULL)


@pytest.mark.parametrize("name", FULL)
def test_full_size_models_share_one_output_stride_and_no_regularisation(name: str) -> None:
    model = create_model(name, num_classes=10)
    side = 32 // OUTPUT_STRIDE if name not in ISOTROPIC else 8  # Mixer: 4x4 patches, 8x8 tokens
    assert final_feature_size(model, 32) == (side, side)
    assert model.training  # probing the size leaves the mode as it was
    assert active_regularisation(model) == {"drop_path": 0.0, "dropout": 0.0}


@pytest.mark.parametrize("name", sorted(PAPER_REGULARISATION))
def test_the_papers_regularisation_is_an_option(name: str) -> None:
    setting = PAPER_REGULARISATION[name]
    model = create_model(name, num_classes=10, **setting)
    active = active_regularisation(model)
    key = "drop_path" if "drop_path_rate" in setting else "dropout"
    assert active[key] == pytest.approx(next(iter(setting.values())))


def test_active_regularisation_finds_dropout_and_drop_path() -> None:
    from timm.layers import DropPath

    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.3), DropPath(0.05))
    assert active_regularisation(model) == {"drop_path": 0.05, "dropout": 0.3}


@pytest.mark.parametrize("rate", [-0.1, 1.0, 2])
def test_bad_drop_path_rate_is_named(rate: float) -> None:
    with pytest.raises(ValueError, match="drop_path_rate"):
        check_drop_path_rate(rate)


def test_the_adaptation_table_reads_the_built_models() -> None:
    from cifarlib.profile import adaptation_table

    table = adaptation_table(["ghostnet_100", "mixer_s4"], num_classes=10).set_index("model")
    assert table.loc["ghostnet_100", "final_map"] == "4×4" and table.loc["mixer_s4", "final_map"] == "8×8"
    assert table.loc["ghostnet_100", "paper_regularisation"] == "drop_rate=0.2"
    assert table.loc["mixer_s4", "paper_regularisation"] == "—"
    assert (table[["drop_path", "dropout"]] == 0).all().all()
