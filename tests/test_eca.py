"""ECA-Net: the ECA module vs timm's EcaModule, graft switches, full-size ECA-ResNet-50."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from timm.layers import EcaModule

from cifarlib.models import create_model
from cifarlib.models.eca import ECA, adaptive_kernel_size
from helpers import features_shape, n_params


@pytest.mark.parametrize("channels", [8, 16, 32, 64, 256, 1024, 2048])
def test_eca_matches_timm_adaptive(channels: int) -> None:
    torch.manual_seed(0)
    ref = EcaModule(channels)
    ours = ECA(channels)
    assert ours.kernel_size == ref.conv.kernel_size[0]
    ours.conv.weight.data.copy_(ref.conv.weight.data)  # the k weights of the 1-D conv
    x = torch.randn(2, channels, 5, 5)
    torch.testing.assert_close(ours(x), ref(x))


@pytest.mark.parametrize("k", [1, 5, 9])
def test_eca_matches_timm_fixed_kernel(k: int) -> None:
    torch.manual_seed(0)
    ref = EcaModule(None, kernel_size=k)
    ours = ECA(16, kernel_size=k)
    ours.conv.weight.data.copy_(ref.conv.weight.data)
    x = torch.randn(2, 16, 4, 4)
    torch.testing.assert_close(ours(x), ref(x))


def test_adaptive_kernel_small_channels_differs_from_timm() -> None:
    # psi(C) as in the paper/official code gives k = 1 for 4 <= C < 8; timm clamps k to >= 3.
    # Irrelevant here: the CIFAR widths 16/32/64 all give k = 3 in both.
    assert adaptive_kernel_size(4) == 1 and EcaModule(4).conv.kernel_size[0] == 3
    assert [adaptive_kernel_size(c) for c in (16, 32, 64)] == [3, 3, 3]


def eca_modules(model: nn.Module) -> list[ECA]:
    return [m for m in model.modules() if isinstance(m, ECA)]


def test_attn_off_is_plain_resnet() -> None:
    plain = create_model("eca_resnet20", attn=False)
    ref = create_model("resnet20")
    assert not eca_modules(plain)
    assert n_params(plain) == n_params(ref)
    assert {k: v.shape for k, v in plain.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}


@pytest.mark.parametrize("kernel_size, k", [(None, 3), (5, 5), (1, 1)])
def test_kernel_size_switch(kernel_size: int | None, k: int) -> None:
    model = create_model("eca_resnet20", kernel_size=kernel_size)
    mods = eca_modules(model)
    assert len(mods) == 9 and all(m.conv.weight.shape == (1, 1, k) for m in mods)
    assert n_params(model) - n_params(create_model("resnet20")) == 9 * k  # k weights per block


@pytest.mark.parametrize("kernel_size", [4, 0, -3])
def test_invalid_kernel_size(kernel_size: int) -> None:
    with pytest.raises(ValueError, match="kernel_size"):
        create_model("eca_resnet20", kernel_size=kernel_size)


@pytest.mark.parametrize("position", ["pre_add", "post_add"])
def test_attn_position(position: str) -> None:
    """ECA sees the residual branch (pre_add) or the sum with the shortcut (post_add)."""
    torch.manual_seed(0)
    model = create_model("eca_resnet20", attn_position=position).eval()
    block = model.stages[1][0]  # strided block with a projection shortcut
    seen: dict[str, torch.Tensor] = {}
    block.attn.register_forward_hook(lambda m, inp, out: seen.update(attn_in=inp[0].clone()))
    block.bn2.register_forward_hook(lambda m, inp, out: seen.update(branch=out.clone()))
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        block(x)
        expected = seen["branch"] if position == "pre_add" else seen["branch"] + block.shortcut(x)
    torch.testing.assert_close(seen["attn_in"], expected)
    assert n_params(model) == n_params(create_model("eca_resnet20"))


def test_invalid_position() -> None:
    with pytest.raises(ValueError, match="attn_position"):
        create_model("eca_resnet20", attn_position="middle")


def timm_eca_kernels(model: nn.Module) -> list[int]:
    return [m.conv.kernel_size[0] for m in model.modules() if isinstance(m, EcaModule)]


def test_full_size_eca_resnet50() -> None:
    torch.manual_seed(0)
    model = create_model("eca_resnet50")
    assert model.conv1.stride == (1, 1) and model.conv1.kernel_size == (7, 7)
    assert isinstance(model.maxpool, nn.Identity)
    # adaptive psi(C) on the 256/512/1024/2048-channel blocks (3 + 4 + 6 + 3 blocks)
    assert timm_eca_kernels(model) == [5] * 13 + [7] * 3
    assert all(isinstance(b.se, EcaModule) for layer in (model.layer1, model.layer4) for b in layer)
    fixed = create_model("eca_resnet50", kernel_size=3)
    assert timm_eca_kernels(fixed) == [3] * 16
    assert n_params(model) - n_params(fixed) == 13 * 2 + 3 * 4
    assert features_shape(model) == (1, 2048, 4, 4)


@pytest.mark.parametrize("kernel_size", [4, 0, True])
def test_full_size_invalid_kernel_size(kernel_size: int) -> None:
    with pytest.raises(ValueError, match="kernel_size"):
        create_model("eca_resnet50", kernel_size=kernel_size)
