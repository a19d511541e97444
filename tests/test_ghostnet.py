"""GhostNet: Ghost module vs timm on shared weights, graft switches, full-size stem."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
from timm.models.ghostnet import GhostModule as TimmGhostModule

from cifarlib.models import create_model
from cifarlib.models.ghostnet import GhostBasicBlock, GhostModule
from helpers import RESNET20_PARAMS, n_params


def randomise_bn(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)


@pytest.mark.parametrize("ratio,dw,stride,relu", [(2, 3, 1, True), (3, 5, 2, False), (4, 3, 1, True)])
def test_ghost_module_matches_timm(ratio: int, dw: int, stride: int, relu: bool) -> None:
    torch.manual_seed(0)
    ours = GhostModule(12, 20, kernel_size=3, ratio=ratio, dw_kernel=dw, stride=stride, relu=relu)
    theirs = TimmGhostModule(12, 20, kernel_size=3, ratio=ratio, dw_size=dw, stride=stride,
                             act_layer=nn.ReLU if relu else nn.Identity)
    randomise_bn(ours)
    # Same layout (primary conv, BN, cheap conv, BN), different names: copy tensors in order.
    src, dst = ours.state_dict(), theirs.state_dict()
    assert len(src) == len(dst)
    theirs.load_state_dict({k: v for k, v in zip(dst, src.values(), strict=True)})
    ours.eval(), theirs.eval()
    x = torch.randn(2, 12, 9, 9)
    torch.testing.assert_close(ours(x), theirs(x))
    assert n_params(ours) == n_params(theirs)


def test_ghost_module_param_formula() -> None:
    c, n, k, d = 16, 32, 3, 3
    for s in (2, 3, 4):
        m = math.ceil(n / s)
        bn = 2 * m + 2 * m * (s - 1)
        assert n_params(GhostModule(c, n, k, s, d)) == c * m * k * k + m * (s - 1) * d * d + bn


def test_ratio_one_is_exactly_the_backbone() -> None:
    torch.manual_seed(0)
    ghost = create_model("ghost_resnet20", ratio=1).eval()
    plain = create_model("resnet20").eval()
    assert n_params(ghost) == RESNET20_PARAMS
    assert not any(m.cheap is not None for m in ghost.modules() if isinstance(m, GhostModule))
    randomise_bn(plain)
    src, dst = plain.state_dict(), ghost.state_dict()
    ghost.load_state_dict({k: v for k, v in zip(dst, src.values(), strict=True)})
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(ghost(x), plain(x))


def test_default_graft_structure_and_budget() -> None:
    m = create_model("ghost_resnet20")
    assert sum(isinstance(b, GhostBasicBlock) for b in m.modules()) == 9
    ghosts = [g for g in m.stages[2].modules() if isinstance(g, GhostModule)]
    assert len(ghosts) == 6
    for g in ghosts:  # each 64-map module: a 3x3 conv to 32 intrinsic maps + 32 depthwise ghosts
        assert g.primary[0].out_channels == 32 and g.primary[0].kernel_size == (3, 3)
        assert g.cheap[0].groups == 32 and g.cheap[0].out_channels == 32
    assert isinstance(ghosts[0].primary[2], nn.ReLU) and isinstance(ghosts[1].primary[2], nn.Identity)
    assert n_params(m) == 147_716
    assert 100_000 < n_params(m) < 800_000


def test_ratio_and_dw_kernel_change_params_as_documented() -> None:
    counts = {s: n_params(create_model("ghost_resnet20", ratio=s)) for s in (1, 2, 3, 4)}
    assert counts[1] > counts[2] > counts[3] > counts[4]
    # d = 1 -> 5 adds 24 weights per ghost channel; with s = 2 there are n/2 ghosts per module,
    # 2 modules per block, 3 blocks per stage.
    d1 = n_params(create_model("ghost_resnet20", dw_kernel=1))
    d5 = n_params(create_model("ghost_resnet20", dw_kernel=5))
    assert d5 - d1 == 24 * 2 * 3 * (8 + 16 + 32)


@pytest.mark.parametrize("kw", [{"ratio": 0}, {"ratio": 1.5}, {"dw_kernel": 2}, {"dw_kernel": 0}])
def test_invalid_switches(kw: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kw))):
        create_model("ghost_resnet20", **kw)


def test_ghostnet_100_stem_and_final_map() -> None:
    m = create_model("ghostnet_100")
    assert m.conv_stem.stride == (1, 1)
    strides = [b.conv_dw.stride for stage in m.blocks for b in stage
               if getattr(b, "conv_dw", None) is not None]
    assert strides == [(1, 1)] + [(2, 2)] * 3  # the first stride-2 bottleneck runs at stride 1
    assert m.forward_features(torch.randn(1, 3, 32, 32)).shape == (1, 960, 4, 4)
    assert 3.9e6 < n_params(m) < 4.1e6
    assert m.classifier.out_features == 100
