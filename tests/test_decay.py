"""Weight decay by module type and name (issue 8 item 4): what each model decays."""

from __future__ import annotations

import pytest
import torch.nn as nn

from cifarlib.engine import decayed_parameter_names, param_groups
from cifarlib.models import create_model, list_models

DECAYED_COUNT = {
    "resnet20": 22,
    "resnet32": 34,
    "resnet56": 58,
    "convnext_resnet20": 31,
    "msca_resnet20": 94,
    "lsk_resnet20": 76,
    "coat_resnet20": 46,
    "eca_resnet20": 31,
    "csp_resnet20": 25,
    "ghost_resnet20": 40,
    "hor_resnet20": 67,
    "resnest20": 40,
    "mixer_resnet20": 26,
    "convnext_resnet20_iso": 31,
    "msca_resnet20_iso": 94,
    "lsk_resnet20_iso": 76,
    "coat_resnet20_iso": 46,
    "eca_resnet20_iso": 31,
    "csp_resnet20_iso": 25,
    "ghost_resnet20_iso": 40,
    "hor_resnet20_iso": 67,
    "resnest20_iso": 40,
    "mixer_resnet20_iso": 26,
    "convnext_tiny": 59,
    "segnext_mscan_t": 175,
    "lsknet_t": 148,
    "coatnet_0": 61,
    "eca_resnet50": 70,
    "cspresnet50": 56,
    "ghostnet_100": 96,
    "hornet_tiny": 200,
    "resnest50d": 88,
    "mixer_s4": 34,
}
"""Number of decayed tensors (conv/linear weights) per model; the other tensors are not decayed."""

NEVER_DECAYED = ("bias", "gamma", "gamma1", "gamma2", "table", "relative_position_bias_table", "pos")


def test_every_model_has_a_decay_count() -> None:
    assert set(DECAYED_COUNT) == set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_only_conv_and_linear_weights_are_decayed(name: str) -> None:
    model = create_model(name)
    decayed = decayed_parameter_names(model)
    assert len(decayed) == DECAYED_COUNT[name]
    modules = dict(model.named_modules())
    for full in decayed:
        owner, _, leaf = full.rpartition(".")
        assert leaf == "weight" and isinstance(modules[owner], (nn.Conv1d, nn.Conv2d, nn.Linear)), full
    norms = (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
    for owner, module in model.named_modules():
        if isinstance(module, norms):
            assert not any(n.startswith(owner + ".") for n in decayed), owner
    for full, _ in model.named_parameters():
        if full.rpartition(".")[2] in NEVER_DECAYED:
            assert full not in decayed, full
    groups = param_groups(model, 5e-4)
    assert sum(p.numel() for g in groups for p in g["params"]) == sum(p.numel() for p in model.parameters())
    assert len(groups[0]["params"]) == len(decayed) and groups[1]["weight_decay"] == 0.0


def test_layer_scales_of_any_rank_are_not_decayed() -> None:
    """The (C,1,1) gammas of the HorNet/MSCA grafts and CoAtNet's (cells, heads) tables."""
    for name, leaf in (("hor_resnet20", "gamma"), ("msca_resnet20", "gamma"), ("coat_resnet20", "table")):
        model = create_model(name)
        found = [n for n, p in model.named_parameters() if n.endswith("." + leaf) and p.ndim > 1]
        assert found and not set(found) & set(decayed_parameter_names(model)), name
