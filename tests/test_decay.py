"""Weight decay by module type and name (issue 8 item 4): what each model decays."""

from __future__ import annotations

import pytest
import torch.nn as nn

from cifarlib.engine import decayed_parameter_names, param_groups
from cifarlib.models import create_model, list_models

DECAYING_MODULES = (nn.Conv1d, nn.Conv2d, nn.Linear)
"""The rule: the ``weight`` of every conv and linear layer is decayed; no other tensor is."""


def expected_decayed(model: nn.Module) -> set[str]:
    """The rule applied independently of the engine: the weight of each conv / linear layer, by
    the name ``named_parameters`` gives it (a shared layer counts once)."""
    owners = {id(m.weight) for m in model.modules() if isinstance(m, DECAYING_MODULES) and m.weight is not None}
    return {name for name, p in model.named_parameters() if id(p) in owners}


NEVER_DECAYED = ("bias", "gamma", "gamma1", "gamma2", "table", "relative_position_bias_table", "pos")


@pytest.mark.parametrize("name", list_models())
def test_only_conv_and_linear_weights_are_decayed(name: str) -> None:
    model = create_model(name)
    decayed = decayed_parameter_names(model)
    assert set(decayed) == expected_decayed(model) and len(decayed) == len(set(decayed))
    assert decayed, f"{name} decays nothing: the rule found no conv or linear layer"
    modules = dict(model.named_modules())
    for full in decayed:
        owner, _, leaf = full.rpartition(".")
        assert leaf == "weight" and isinstance(modules[owner], DECAYING_MODULES), full
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
