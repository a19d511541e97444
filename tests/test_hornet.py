"""HorNet: gnConv recursion, graft switches, full-size HorNet-T shapes."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from cifarlib.models import create_model
from cifarlib.models.hornet import GnConv, GnConvMixer, HorBlock, HorNet
from helpers import RESNET20_PARAMS, n_params


def gnconv_params(dim: int, order: int, k: int) -> int:
    """The docstring's formula: phi_in + phi_out + depthwise + gates g_k (all with biases)."""
    dims = [dim // 2 ** (order - 1 - i) for i in range(order)]
    gates = sum((dims[i - 1] + 1) * dims[i] for i in range(1, order))
    return (2 * dim * dim + 2 * dim) + (dim * dim + dim) + sum(dims) * (k * k + 1) + gates


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_gnconv_param_formula_and_shape(order: int) -> None:
    m = GnConv(64, order, 7)
    assert n_params(m) == gnconv_params(64, order, 7)
    assert m.dims[-1] == 64 and m.dims[0] == 64 // 2 ** (order - 1)
    assert m.proj_in.out_channels == 2 * 64 == m.dims[0] + sum(m.dims)
    assert len(m.gates) == order - 1
    assert m(torch.randn(2, 64, 8, 8)).shape == (2, 64, 8, 8)


def test_gnconv_matches_equation_order3() -> None:
    """p1 = f0(q0) p0 / a, p2 = f1(q1) g1(p1) / a, p3 = f2(q2) g2(p2) / a, y = phi_out(p3)."""
    torch.manual_seed(0)
    m = GnConv(16, order=3, kernel_size=5).eval()
    x = torch.randn(2, 16, 6, 6)
    z = m.proj_in(x)
    p0, q0, q1, q2 = torch.split(z, [4, 4, 8, 16], dim=1)
    f = m.dwconv(torch.cat([q0, q1, q2], 1)) / 3.0  # one depthwise conv = the three f_k
    f0, f1, f2 = torch.split(f, [4, 8, 16], dim=1)
    p1 = f0 * p0
    p2 = f1 * m.gates[0](p1)
    p3 = f2 * m.gates[1](p2)
    torch.testing.assert_close(m(x), m.proj_out(p3))


def test_gnconv_order_interaction_degree() -> None:
    """Without biases gnConv is homogeneous of degree n+1 in its input (n-th order gating)."""
    torch.manual_seed(0)
    for order in (1, 2, 3):
        m = GnConv(8, order, 3).double()
        for mod in m.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.zeros_(mod.bias)
        x = torch.randn(1, 8, 5, 5, dtype=torch.float64)
        torch.testing.assert_close(m(2 * x), 2 ** (order + 1) * m(x))


def test_graft_attn_off_is_resnet_and_on_adds_gnconv() -> None:
    off = create_model("hor_resnet20", attn=False)
    assert n_params(off) == RESNET20_PARAMS
    assert not any(isinstance(m, GnConv) for m in off.modules())
    on = create_model("hor_resnet20")
    assert sum(isinstance(m, GnConvMixer) for m in on.modules()) == 9  # one per basic block
    extra = sum(gnconv_params(c, 3, 7) + 3 * c for c in (16, 32, 64)) * 3  # + LN (2C) + gamma (C)
    assert n_params(on) - RESNET20_PARAMS == extra
    assert 100_000 < n_params(on) < 800_000


def test_graft_attn_position_same_params_different_function() -> None:
    torch.manual_seed(0)
    pre = create_model("hor_resnet8", attn_position="pre_add").eval()
    post = create_model("hor_resnet8", attn_position="post_add").eval()
    assert n_params(pre) == n_params(post)
    for m in pre.modules():  # make gnConv matter (gamma starts at 1e-6, weights at std .02)
        if isinstance(m, GnConvMixer):
            nn.init.ones_(m.gamma)
            for conv in m.modules():
                if isinstance(conv, nn.Conv2d):
                    nn.init.normal_(conv.weight, 0.0, 0.5)
    post.load_state_dict(pre.state_dict())
    x = torch.randn(2, 3, 16, 16)
    assert not torch.allclose(pre(x), post(x))


def test_graft_order_and_kernel_change_params_as_documented() -> None:
    counts = [n_params(create_model("hor_resnet20", order=o)) for o in range(1, 6)]
    assert counts == sorted(counts) and len(set(counts)) == 5
    for o in range(1, 6):
        extra = 3 * sum(gnconv_params(c, o, 7) + 3 * c for c in (16, 32, 64))
        assert counts[o - 1] - RESNET20_PARAMS == extra
    k3 = n_params(create_model("hor_resnet20", kernel_size=3))
    q_channels = sum(c * (2 - 2 ** (1 - 3)) for c in (16, 32, 64))  # sum_k C_k per block, order 3
    assert counts[2] - k3 == 3 * q_channels * (49 - 9)
    m = create_model("hor_resnet8", order=5, kernel_size=3)
    assert m(torch.randn(2, 3, 16, 16)).shape == (2, 100)


@pytest.mark.parametrize("kw", [{"order": 0}, {"order": 6}, {"kernel_size": 4}, {"kernel_size": 0},
                                {"attn_position": "middle"}])
def test_graft_invalid_switches(kw: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kw))):
        create_model("hor_resnet20", **kw)


def test_gnconv_rejects_indivisible_channels() -> None:
    with pytest.raises(ValueError, match="divisible"):
        GnConv(24, order=5)


def test_horblock_shape_and_layer_scale_init() -> None:
    blk = HorBlock(32, order=3)
    assert float(blk.gamma1.detach().abs().max()) == pytest.approx(1e-6)
    assert blk(torch.randn(2, 32, 4, 4)).shape == (2, 32, 4, 4)


def test_hornet_tiny_structure() -> None:
    m = create_model("hornet_tiny")
    assert isinstance(m, HorNet)
    blocks = [b for b in m.modules() if isinstance(b, HorBlock)]
    assert len(blocks) == 2 + 3 + 18 + 2
    assert [b.gnconv.order for b in blocks[:2]] == [2, 2] and blocks[-1].gnconv.order == 5
    assert 21e6 < n_params(m) < 23e6  # HorNet-T 7x7: 22M at ImageNet's 1000 classes
    x = torch.randn(1, 3, 32, 32)
    assert m.forward_features(x).shape == (1, 512, 4, 4)  # stem stride 1: 32/16/8/4
    m2 = HorNet(dims=(16, 32, 64, 128), depths=(1, 1, 1, 1), stem_stride=2)
    assert m2.forward_features(x).shape == (1, 128, 2, 2)
    with pytest.raises(ValueError, match="stem_stride"):
        create_model("hornet_tiny", stem_stride=4)
    with pytest.raises(ValueError, match="kernel_size"):
        create_model("hornet_tiny", kernel_size=6)
