"""ResNeSt: split-attention conv vs timm, graft switches, full-size 32x32 adaptation."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from timm.layers import SplitAttn

from cifarlib.models import create_model
from cifarlib.models.resnest import SplitAttnConv, attention_channels
from helpers import features_shape, n_params, timm_params


def randomize_bn(module: nn.Module) -> None:
    """Non-trivial BN affine parameters and running statistics (so eval mode is a real test)."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)


# timm's SplitAttn names -> ours (same tensors, same layouts).
TIMM_TO_OURS = {"conv": "conv", "bn0": "bn", "fc1": "fc1", "bn1": "bn_fc", "fc2": "fc2"}


@pytest.mark.parametrize(
    "radix, cardinality, in_ch, out_ch, stride",
    [(2, 1, 16, 16, 1), (1, 1, 16, 16, 1), (4, 1, 16, 32, 2), (2, 2, 16, 16, 1), (1, 4, 32, 32, 2), (4, 2, 16, 16, 1)],
)
def test_split_attention_matches_timm(radix: int, cardinality: int, in_ch: int, out_ch: int, stride: int) -> None:
    torch.manual_seed(0)
    ref = SplitAttn(in_ch, out_ch, stride=stride, groups=cardinality, radix=radix, norm_layer=nn.BatchNorm2d)
    randomize_bn(ref)
    ours = SplitAttnConv(in_ch, out_ch, 3, stride, radix, cardinality, attn_channels=ref.fc1.out_channels)
    state = {TIMM_TO_OURS[k.split(".")[0]] + "." + k.split(".", 1)[1]: v for k, v in ref.state_dict().items()}
    ours.load_state_dict(state)  # strict: every tensor has its counterpart
    ref.eval(), ours.eval()
    x = torch.randn(2, in_ch, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))


def test_attention_channels_official_rule() -> None:
    assert attention_channels(16, 2) == 32  # floor at 32
    assert attention_channels(64, 2) == 32
    assert attention_channels(64, 4) == 64  # r*C/4
    assert attention_channels(16, 1, cardinality=3) == 33  # rounded up to a multiple of K


def test_radix_softmax_vs_sigmoid() -> None:
    torch.manual_seed(0)
    logits = torch.randn(3, 2 * 16, 1, 1)
    soft = SplitAttnConv(16, 16, radix=2, cardinality=2).split_weights(logits)
    assert soft.shape == (3, 2, 16, 1, 1)
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(3, 16, 1, 1))  # r-softmax over splits
    gate = SplitAttnConv(16, 16, radix=1).split_weights(logits[:, :16])
    torch.testing.assert_close(gate[:, 0], torch.sigmoid(logits[:, :16]))  # radix 1: sigmoid gate


def attention_param_delta(radix: int, cardinality: int) -> int:
    """Parameters that split attention adds to resnet20 (grouped conv weights are unchanged)."""
    total = 0
    for c in (16, 32, 64):
        h = attention_channels(c, radix, cardinality)
        per_block = (
            2 * (radix - 1) * c  # BN over r*C maps instead of C
            + c * h // cardinality + h  # fc1 (grouped) + bias
            + 2 * h  # BN of the attention
            + h * radix * c // cardinality + radix * c  # fc2 (grouped) + bias
        )
        total += 3 * per_block
    return total


@pytest.mark.parametrize("radix, cardinality", [(2, 1), (1, 1), (4, 1)])
def test_graft_param_delta(radix: int, cardinality: int) -> None:
    model = create_model("resnest20", radix=radix, cardinality=cardinality)
    base = n_params(create_model("resnet20"))
    assert n_params(model) - base == attention_param_delta(radix, cardinality)
    splat = [m for m in model.modules() if isinstance(m, SplitAttnConv)]
    assert len(splat) == 9
    assert all(m.conv.groups == radix * cardinality for m in splat)
    assert all(m.conv.out_channels == radix * m.out_channels for m in splat)


def test_graft_budget_and_cardinality() -> None:
    params = n_params(create_model("resnest20"))
    assert 0.1e6 < params < 0.8e6
    # cardinality K divides the grouped conv's weights by K
    card = create_model("resnest20", cardinality=2)
    convs = [m.conv for m in card.modules() if isinstance(m, SplitAttnConv)]
    assert all(c.groups == 4 and c.weight.shape[1] == c.in_channels // 4 for c in convs)
    assert n_params(card) < params


def test_attn_off_is_plain_resnet() -> None:
    plain = create_model("resnest20", attn=False)
    ref = create_model("resnet20")
    assert not any(isinstance(m, SplitAttnConv) for m in plain.modules())
    assert {k: v.shape for k, v in plain.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    # same weights -> same function as the backbone
    plain.load_state_dict(ref.state_dict())
    plain.eval(), ref.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(plain(x), ref(x))
    grouped = create_model("resnest20", attn=False, cardinality=4)
    assert grouped.stages[0][0].conv1.groups == 4


def test_any_depth_and_shapes() -> None:
    model = create_model("resnest32", radix=2)
    assert sum(isinstance(m, SplitAttnConv) for m in model.modules()) == 15
    model.eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 100)


@pytest.mark.parametrize(
    "kwargs",
    [dict(radix=0), dict(radix=3), dict(radix=2.0), dict(radix=True), dict(cardinality=0),
     dict(cardinality=32), dict(radix=4, cardinality=8), dict(attn=False, cardinality=3)],
)
def test_invalid_switches(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="radix|cardinality"):
        create_model("resnest20", **kwargs)


def test_no_attn_position_switch() -> None:
    with pytest.raises(TypeError, match="attn_position"):
        create_model("resnest20", attn_position="post_add")


def test_full_size_adapted_to_32x32() -> None:
    torch.manual_seed(0)
    model = create_model("resnest50d")
    assert model.conv1[0].stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    assert n_params(model) == timm_params("resnest50d")
    assert features_shape(model) == (1, 2048, 4, 4)
