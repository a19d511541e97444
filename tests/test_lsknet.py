"""LSKNet: the LSK attention module, the lsk_resnet graft switches, the full-size LSKNet-T.

timm has no LSKNet (nor an LSK block), so there is no numerical equivalence test against a
reference implementation; the module is checked against the paper's equations by hand instead.
"""

from __future__ import annotations


import pytest
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from cifarlib.models import create_model
from cifarlib.models.lsknet import RECEPTIVE_FIELD, LSKAttention
from cifarlib.models.resnet import BasicBlock
from cifarlib.models.van_stages import PreNormResidual, VanBlock
from helpers import RESNET20_PARAMS, n_params, stage_shapes


def lsk_params(c: int) -> int:
    """Docstring formula: 1.5C^2 + 2C (1x1 convs) + 76C (depthwise) + 198 (selection conv)."""
    return 3 * c * c // 2 + 78 * c + 198


@pytest.mark.parametrize("channels", [16, 32, 64])
def test_lsk_param_formula(channels: int) -> None:
    assert n_params(LSKAttention(channels)) == lsk_params(channels)
    assert n_params(LSKAttention(channels, selection=False)) == lsk_params(channels) - 198
    # one 23x23 kernel instead of a dilated 7x7: 529 - 49 = 480 more weights per channel
    assert n_params(LSKAttention(channels, decompose=False)) == lsk_params(channels) + 480 * channels


def test_lsk_matches_equations() -> None:
    torch.manual_seed(0)
    m = LSKAttention(8).eval()
    x = torch.randn(2, 8, 10, 10)
    u1 = m.reduce_small(m.dw_small(x))
    u2 = m.reduce_large(m.dw_large(m.dw_small(x)))
    both = torch.cat([u1, u2], 1)
    pooled = torch.cat([both.mean(1, keepdim=True), both.max(1, keepdim=True).values], 1)
    mask = torch.sigmoid(m.select(pooled))
    expected = x * m.proj(mask[:, :1] * u1 + mask[:, 1:] * u2)
    torch.testing.assert_close(m(x), expected)
    assert m.dw_large.dilation == (3, 3) and m.dw_large.kernel_size == (7, 7)
    assert m.reduce_small.out_channels == 4 and m.select.in_channels == 2


def test_selection_off_is_plain_sum() -> None:
    torch.manual_seed(0)
    m = LSKAttention(8, selection=False).eval()
    assert m.select is None
    x = torch.randn(2, 8, 10, 10)
    u1, u2 = m.spatial_branches(x)
    torch.testing.assert_close(m(x), x * m.proj(m.reduce_small(u1) + m.reduce_large(u2)))


@pytest.mark.parametrize("decompose", [True, False])
def test_receptive_fields(decompose: bool) -> None:
    # Both variants: branch 1 sees a dense 5x5, branch 2 a dense 23x23 window.
    torch.manual_seed(0)
    m = LSKAttention(4, decompose=decompose)
    for p in m.parameters():
        nn.init.uniform_(p, 0.1, 1.0)  # positive weights: no accidental cancellation
    for branch, size in ((0, 5), (1, RECEPTIVE_FIELD)):
        x = torch.randn(1, 4, 41, 41, requires_grad=True)
        m.spatial_branches(x)[branch][0, 0, 20, 20].backward()
        support = x.grad[0].abs().sum(0) > 0
        lo, hi = 20 - size // 2, 20 + size // 2 + 1
        assert support[lo:hi, lo:hi].all() and support.sum() == size * size
    if not decompose:
        assert m.dw_large.kernel_size == (23, 23) and m.dw_large.dilation == (1, 1)


def test_undecomposed_flops() -> None:
    # +480 multiply-adds per channel per position (554 vs 74 in the two depthwise convs).
    c, hw = 8, 16
    flops = {}
    for decompose in (True, False):
        with FlopCounterMode(display=False) as counter:
            LSKAttention(c, decompose=decompose)(torch.randn(1, c, hw, hw))
        flops[decompose] = counter.get_total_flops()
    assert flops[False] - flops[True] == 2 * 480 * c * hw * hw  # counter: 2 FLOPs per MAC


def test_graft_switches_change_params_as_documented() -> None:
    base = n_params(create_model("lsk_resnet20"))
    # LSK + BN (2C) + layer scale (C) of the residual form
    per_block = sum(3 * (lsk_params(c) + 3 * c) for c in (16, 32, 64))
    assert base - RESNET20_PARAMS == per_block == 53_190
    assert n_params(create_model("lsk_resnet20", residual=False)) == base - 3 * 3 * (16 + 32 + 64)
    assert n_params(create_model("lsk_resnet20", attn=False)) == RESNET20_PARAMS
    assert n_params(create_model("lsk_resnet20", selection=False)) == base - 9 * 198
    undecomposed = n_params(create_model("lsk_resnet20", decompose=False))
    assert undecomposed - base == 480 * 3 * (16 + 32 + 64) == 161_280
    for kw in ({}, {"decompose": False}):
        assert 100_000 < n_params(create_model("lsk_resnet20", **kw)) < 800_000


def test_graft_structure() -> None:
    m = create_model("lsk_resnet20", attn_position="post_add", decompose=False, selection=False)
    blocks = [b for b in m.modules() if isinstance(b, BasicBlock)]
    assert len(blocks) == 9
    assert all(isinstance(b.attn, PreNormResidual) and b.attn_position == "post_add" for b in blocks)
    gates = [b.attn.gate for b in blocks]
    assert all(isinstance(g, LSKAttention) and not g.decompose and g.select is None for g in gates)
    bare = create_model("lsk_resnet20", residual=False)
    assert all(type(b.attn) is LSKAttention for b in bare.modules() if isinstance(b, BasicBlock))
    off = create_model("lsk_resnet20", attn=False)
    assert not any(isinstance(mod, LSKAttention) for mod in off.modules())
    assert sum(isinstance(mod, LSKAttention) for mod in create_model("lsk_resnet32").modules()) == 15


@pytest.mark.parametrize(
    "kwargs",
    [{"attn_position": "after"}, {"decompose": "yes"}, {"decompose": 0}, {"selection": None},
     {"residual": "no"}],
)
def test_invalid_switches_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        create_model("lsk_resnet20", **kwargs)
    if "attn_position" not in kwargs and "residual" not in kwargs:
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            create_model("lsknet_t", **kwargs)


def test_lsknet_t_architecture() -> None:
    torch.manual_seed(0)
    m = create_model("lsknet_t").eval()
    stem = m.stages[0].embed[0]
    assert stem.kernel_size == (7, 7) and stem.stride == (1, 1)  # paper: stride 4
    assert [s.embed[0].stride for s in m.stages[1:]] == [(2, 2)] * 3
    assert [len(s.blocks) for s in m.stages] == [3, 3, 5, 2]
    hidden = [s.blocks[0].mlp.fc1.out_channels for s in m.stages]
    assert hidden == [8 * 32, 8 * 64, 4 * 160, 4 * 256]
    blocks = [b for b in m.modules() if isinstance(b, VanBlock)]
    assert all(isinstance(b.attn.gate, LSKAttention) for b in blocks)
    assert stage_shapes(m) == [(32, 32, 32), (64, 16, 16), (160, 8, 8), (256, 4, 4)]
    # The paper's LSKNet-T has 4.3M parameters (with a 1000-class ImageNet head).
    assert abs(n_params(create_model("lsknet_t", num_classes=1000)) - 4.3e6) < 0.1e6


def test_lsknet_t_switches() -> None:
    base = n_params(create_model("lsknet_t"))
    widths_x_blocks = 3 * 32 + 3 * 64 + 5 * 160 + 2 * 256
    assert n_params(create_model("lsknet_t", decompose=False)) - base == 480 * widths_x_blocks
    assert base - n_params(create_model("lsknet_t", selection=False)) == 198 * 13


def test_bf16_channels_last_gradients_match_nchw() -> None:
    """Regression guard: oneDNN's bf16 channels_last dilated depthwise conv returned a wrong
    weight gradient (the LSK graft then stayed at chance); it now runs in fp32 under CPU
    autocast, so both layouts give the same gradients."""
    torch.manual_seed(0)
    m = LSKAttention(16)
    x = torch.randn(8, 16, 32, 32)  # the fault shows at this size, not at 16x16
    grads = {}
    for channels_last in (False, True):
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        mm = m.to(memory_format=fmt)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = mm(x.contiguous(memory_format=fmt)).float()
        y.square().mean().backward()
        grads[channels_last] = {n: p.grad.clone() for n, p in mm.named_parameters()}
        mm.zero_grad()
    for name, ref in grads[False].items():
        torch.testing.assert_close(grads[True][name], ref, rtol=0.05, atol=1e-3 * ref.abs().max().item())
