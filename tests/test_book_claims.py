"""Sentences of the book about how a model behaves, each checked here (book/methods/*.md)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cifarlib.models import create_model
from cifarlib.profile import count_flops, count_parameters


def test_bare_post_add_msca_blows_up() -> None:
    """segnext.md: the bare gate Att(F)*F after the add gives NaN within a few SGD steps at depth
    20 and already overflows in the forward pass at initialisation at depth 56; the residual
    form trains in both positions."""
    torch.manual_seed(0)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    with torch.no_grad():
        deep = create_model("msca_resnet56", num_classes=10, residual=False, attn_position="post_add")
        assert not torch.isfinite(deep(x)).all()
    for residual, expect_finite in ((False, False), (True, True)):
        torch.manual_seed(0)
        model = create_model("msca_resnet20", num_classes=10, residual=residual, attn_position="post_add")
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        losses = []
        for _ in range(3):
            loss = F.cross_entropy(model(x), y)
            losses.append(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert all(torch.isfinite(torch.tensor(losses))) == expect_finite, (residual, losses)


def test_mixer_flops_per_parameter_is_that_of_a_conv_net() -> None:
    """mixer.md: mixer_s4's FLOPs per parameter are of the same order as the conv nets' (every
    channel-MLP weight is used once per token, 64 times per image)."""
    ratios = {}
    for name in ("mixer_s4", "eca_resnet50", "resnest50d"):
        model = create_model(name, num_classes=100)
        ratios[name] = count_flops(model) / count_parameters(model)
    assert 0.5 < ratios["mixer_s4"] / ratios["eca_resnet50"] < 2
    assert 0.5 < ratios["mixer_s4"] / ratios["resnest50d"] < 2
