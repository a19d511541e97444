"""ConvNeXt graft and full-size model: switches, structure, and equivalence with timm's block."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from timm.models.convnext import ConvNeXtBlock as TimmConvNeXtBlock

from cifarlib.models import create_model
from cifarlib.models.convnext import ConvNeXtBlock, Downsample, LayerNorm2d, convnext_resnet
from helpers import n_params

WIDTHS = (16, 32, 64)


def blocks(model: nn.Module) -> list[ConvNeXtBlock]:
    return [m for m in model.modules() if isinstance(m, ConvNeXtBlock)]


def test_graft_structure_and_budget() -> None:
    model = convnext_resnet(20)
    assert 100_000 <= n_params(model) <= 800_000
    assert len(blocks(model)) == 9  # n = 3 blocks per stage
    downs = [m for m in model.modules() if isinstance(m, Downsample)]
    shapes = [(d.conv.in_channels, d.conv.out_channels, d.conv.stride) for d in downs]
    assert shapes == [(16, 32, (2, 2)), (32, 64, (2, 2))]
    assert all(isinstance(d.norm, LayerNorm2d) for d in downs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.stages.modules())
    for block in blocks(model):
        c = block.conv_dw.in_channels
        assert block.conv_dw.kernel_size == (7, 7) and block.conv_dw.groups == c
        assert block.mlp.fc1.out_channels == 4 * c
        torch.testing.assert_close(block.gamma.detach(), torch.full((c,), 1e-6))
    x = torch.randn(2, 3, 32, 32)
    assert model.forward_features(x).shape == (2, 64, 8, 8)
    assert convnext_resnet(56)(x).shape == (2, 100)


def test_kernel_size_switch() -> None:
    small = convnext_resnet(20, kernel_size=3)
    assert {b.conv_dw.kernel_size for b in blocks(small)} == {(3, 3)}
    # each block's depthwise conv loses C * (49 - 9) weights
    assert n_params(convnext_resnet(20)) - n_params(small) == 3 * sum(WIDTHS) * 40


def test_expansion_switch() -> None:
    wide = convnext_resnet(20, expansion=6)
    assert [b.mlp.fc1.out_channels for b in blocks(wide)] == [6 * c for c in WIDTHS for _ in range(3)]
    # two C x eC maps and eC biases per block: + 2 * 2C^2 + 2C for e: 4 -> 6
    delta = sum(3 * (2 * 2 * c * c + 2 * c) for c in WIDTHS)
    assert n_params(wide) - n_params(convnext_resnet(20)) == delta


def test_layer_scale_switch() -> None:
    off = convnext_resnet(20, layer_scale=None)
    assert all(b.gamma is None for b in blocks(off))
    assert n_params(convnext_resnet(20)) - n_params(off) == 3 * sum(WIDTHS)
    half = convnext_resnet(20, layer_scale=0.5)
    assert all(torch.all(b.gamma == 0.5) for b in blocks(half))


def test_norm_switch() -> None:
    bn = convnext_resnet(20, norm="bn")
    assert not any(isinstance(m, LayerNorm2d) for m in bn.modules())
    assert all(isinstance(b.norm, nn.BatchNorm2d) for b in blocks(bn))
    assert n_params(bn) == n_params(convnext_resnet(20))  # both norms have 2C affine parameters


@pytest.mark.parametrize(
    "kwargs",
    [dict(kernel_size=4), dict(kernel_size=0), dict(expansion=0), dict(layer_scale=0.0),
     dict(layer_scale=-1e-6), dict(norm="gn")],
)
def test_invalid_switches(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        convnext_resnet(20, **kwargs)


@pytest.mark.parametrize("conv_mlp", [True, False])
def test_block_matches_timm(conv_mlp: bool) -> None:
    """Same weights, same outputs as timm's ConvNeXtBlock (conv MLP, or Linear MLP reshaped)."""
    torch.manual_seed(0)
    c = 16
    ref = TimmConvNeXtBlock(c, kernel_size=7, mlp_ratio=4, ls_init_value=1e-6, conv_mlp=conv_mlp).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.randn_like(p) * 0.2)  # random layer scale / norm affine too
    state = {k: (v.view(*v.shape, 1, 1) if k.startswith("mlp.fc") and v.dim() == 2 else v)
             for k, v in ref.state_dict().items()}
    ours = ConvNeXtBlock(c).eval()
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, c, 8, 8)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


def test_full_size_stem() -> None:
    model = create_model("convnext_tiny")
    assert 27e6 < n_params(model) < 29e6
    stem = model.stem[0]
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert model.forward_features(x).shape == (1, 768, 4, 4)  # stages at 32/16/8/4
        patch2 = create_model("convnext_tiny", stem_stride=2)
        assert patch2.stem[0].kernel_size == (2, 2) and patch2.stem[0].stride == (2, 2)
        assert patch2.forward_features(x).shape == (1, 768, 2, 2)
    with pytest.raises(ValueError, match="stem_stride"):
        create_model("convnext_tiny", stem_stride=4)


def test_init_switch() -> None:
    torch.manual_seed(0)
    paper = convnext_resnet(20)
    torch.manual_seed(0)
    default = convnext_resnet(20, init="torch")
    paper_std = paper.stages[0][0].mlp.fc1.weight.std().item()
    default_std = default.stages[0][0].mlp.fc1.weight.std().item()
    assert abs(paper_std - 0.02) < 0.005  # truncated normal, std 0.02
    assert default_std > 3 * paper_std  # Kaiming-uniform at fan-in 16: std 1/sqrt(3 * 16) ~ 0.14
    assert torch.equal(paper.stem[0].weight, default.stem[0].weight)  # only the ConvNeXt stages change
    with pytest.raises(ValueError, match="init must be one of"):
        convnext_resnet(20, init="xavier")


def test_head_norm_switch() -> None:
    closed = convnext_resnet(20, head_norm=True)
    assert isinstance(closed.stages[-1][-1], LayerNorm2d)
    assert n_params(closed) - n_params(convnext_resnet(20)) == 2 * WIDTHS[-1]
    out = closed.forward_features(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(out.mean(1), torch.zeros(2, 8, 8), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="head_norm must be True or False"):
        convnext_resnet(20, head_norm=1)
