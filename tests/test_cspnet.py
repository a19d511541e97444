"""CSPNet: cross-stage partial stages on the CIFAR ResNet, switches, full-size 32x32 adaptation.

timm's ``CrossStage`` is not compared numerically: it always has both transitions and a 1x1
expansion (``conv_exp``) before the split, which the graft leaves out (the paper splits the base
layer itself); ``fusion="both"`` is the graft's counterpart of timm's stage without ``conv_exp``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from cifarlib.models import create_model
from cifarlib.models.cspnet import CrossStagePartial
from cifarlib.models.resnet import BasicBlock
from helpers import features_shape, n_params, timm_params

WIDTHS = (16, 32, 64)


def conv1x1_bn(c_in: int, c_out: int) -> int:
    return c_in * c_out + 2 * c_out


def test_default_structure_and_budget() -> None:
    model = create_model("csp_resnet20")
    stages = list(model.stages)
    assert all(isinstance(s, CrossStagePartial) for s in stages)
    assert [s.block_channels for s in stages] == [8, 16, 32]
    assert [s.partial_channels for s in stages] == [8, 16, 32]
    # stage 1 splits the stem output; stages 2-3 get a strided 3x3 base layer
    assert isinstance(stages[0].base, nn.Identity)
    assert [s.base[0].stride for s in stages[1:]] == [(2, 2), (2, 2)]
    for s in stages:  # blocks are plain basic blocks at the reduced width, stride 1
        assert len(s.blocks) == 3 and all(isinstance(b, BasicBlock) for b in s.blocks)
        assert {b.conv1.in_channels for b in s.blocks} == {s.block_channels}
        assert all(b.conv1.stride == (1, 1) for b in s.blocks)
    # fusion "last": transition on the block path only
    assert all(isinstance(s.transition_b, nn.Sequential) and isinstance(s.transition, nn.Identity) for s in stages)
    assert 0.1e6 < n_params(model) < 0.8e6
    assert n_params(model) < n_params(create_model("resnet20"))


def test_fusion_variants_param_deltas() -> None:
    last = n_params(create_model("csp_resnet20", fusion="last"))
    first = n_params(create_model("csp_resnet20", fusion="first"))
    both = n_params(create_model("csp_resnet20", fusion="both"))
    t_b = sum(conv1x1_bn(w // 2, w // 2) for w in WIDTHS)  # transitions on the block path
    t_u = sum(conv1x1_bn(w, w) for w in WIDTHS)  # transitions on the concatenation
    assert first - last == t_u - t_b
    assert both - last == t_u
    stage = create_model("csp_resnet20", fusion="first").stages[2]
    assert isinstance(stage.transition_b, nn.Identity) and stage.transition[0].in_channels == 64


def test_fusion_last_keeps_cross_stage_part_untouched() -> None:
    torch.manual_seed(0)
    model = create_model("csp_resnet20").eval()
    x = torch.randn(2, 16, 8, 8)
    stage1, stage2 = model.stages[0], model.stages[1]
    with torch.no_grad():
        torch.testing.assert_close(stage1(x)[:, :8], x[:, :8])  # part 1 skips the whole stage
        y = stage2(x)
        torch.testing.assert_close(y[:, :16], stage2.base(x)[:, :16])
        assert y.shape == (2, 32, 4, 4)


def test_split_ratio_one_removes_cross_stage_path() -> None:
    torch.manual_seed(0)
    model = create_model("csp_resnet20", split_ratio=1.0).eval()
    for s, w in zip(model.stages, WIDTHS):
        assert s.partial_channels == 0 and s.block_channels == w
    s = model.stages[1]
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(s(x), s.transition_b(s.blocks(s.base(x))))
    # the blocks are the backbone's at full width (minus the first block's stride/projection)
    assert n_params(model) > n_params(create_model("resnet20"))


def test_split_ratio_scales_block_width() -> None:
    model = create_model("csp_resnet20", split_ratio=0.25)
    assert [s.block_channels for s in model.stages] == [4, 8, 16]
    assert [s.partial_channels for s in model.stages] == [12, 24, 48]
    assert n_params(model) < n_params(create_model("csp_resnet20"))


def test_any_depth() -> None:
    model = create_model("csp_resnet32").eval()
    assert [len(s.blocks) for s in model.stages] == [5, 5, 5]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 100)


@pytest.mark.parametrize("kwargs", [dict(split_ratio=0.0), dict(split_ratio=1.5), dict(split_ratio=-0.5),
                                    dict(split_ratio="half"), dict(split_ratio=True), dict(split_ratio=0.01)])
def test_invalid_split_ratio(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="split_ratio"):
        create_model("csp_resnet20", **kwargs)


def test_invalid_fusion() -> None:
    with pytest.raises(ValueError, match="fusion"):
        create_model("csp_resnet20", fusion="middle")


def test_full_size_adapted_to_32x32() -> None:
    torch.manual_seed(0)
    model = create_model("cspresnet50")
    assert model.stem.conv1.conv.stride == (1, 1)
    assert isinstance(model.stem.pool, nn.Identity)
    assert n_params(model) == timm_params("cspresnet50")
    assert features_shape(model) == (1, 1024, 4, 4)
