"""Issue 8 item 3: the MSCA and LSK grafts start as the official code (fan-out per group)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from cifarlib.models import create_model
from cifarlib.models.lsknet import LSKAttention
from cifarlib.models.segnext import MSCA


def official_std(conv: nn.Conv2d) -> float:
    """SegNeXt/LSKNet ``_init_weights``: normal(0, sqrt(2 / fan_out)), fan_out = kh kw out / groups."""
    fan_out = conv.kernel_size[0] * conv.kernel_size[1] * conv.out_channels // conv.groups
    return math.sqrt(2.0 / fan_out)


@pytest.mark.parametrize("name,gate", [("msca_resnet20", MSCA), ("lsk_resnet20", LSKAttention),
                                       ("msca_resnet20_iso", MSCA), ("lsk_resnet20_iso", LSKAttention)])
def test_grafted_convs_follow_the_official_init(name: str, gate: type) -> None:
    torch.manual_seed(0)
    model = create_model(name)
    checked = 0
    for module in model.modules():
        if not isinstance(module, gate):
            continue
        for conv in module.modules():
            if isinstance(conv, nn.Conv2d) and conv.weight.numel() >= 200:
                std = conv.weight.std().item()
                assert abs(std / official_std(conv) - 1) < 0.25, (name, conv, std, official_std(conv))
                if conv.bias is not None:
                    assert torch.count_nonzero(conv.bias) == 0
                checked += 1
    assert checked > 10


def test_depthwise_strip_starts_stronger_than_before() -> None:
    """At C=64 the 1x21 strip starts at std ~0.309 (official), not the groups-blind 0.039."""
    torch.manual_seed(0)
    model = create_model("msca_resnet20")
    block = model.stages[2][-1]
    msca = next(m for m in block.modules() if isinstance(m, MSCA))
    strip = next(m for m in msca.strips[-1].modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 21))
    assert strip.groups == 64 and abs(strip.weight.std().item() - math.sqrt(2 / 21)) < 0.05
