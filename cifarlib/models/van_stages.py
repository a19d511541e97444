"""The VAN-style stage skeleton shared by MSCAN (SegNeXt) and LSKNet.

Both encoders (Guo et al., SegNeXt, NeurIPS 2022, arXiv:2209.08575; Li et al., LSKNet, ICCV 2023,
arXiv:2303.09030) inherit the layout of the Visual Attention Network: four stages, each an
overlapping strided-conv patch embedding followed by blocks and a LayerNorm. Only the spatial
gating unit inside the attention differs (MSCA for MSCAN, LSK for LSKNet), so it is passed in
as a factory ``gating(channels) -> nn.Module``. One block computes

    X' = X  + DropPath(gamma_1 * Attn(BN(X)))
    Y  = X' + DropPath(gamma_2 * Mlp(BN(X')))

    Attn(Z) = Z + Proj2(Gate(GELU(Proj1(Z))))       (Proj = 1x1 conv, Gate = MSCA or LSK)
    Mlp(Z)  = FC2(GELU(DWConv3x3(FC1(Z))))          (FC = 1x1 conv, hidden = ratio * C)

with per-channel layer scales ``gamma`` initialised to 1e-2 and a stochastic-depth rate that
grows linearly from 0 to ``drop_path_rate`` over all blocks, as in the official code.

Classifier: the last stage's LayerNorm (applied per position, as VAN's classifier does), global
average pooling and a linear layer. The stem (first patch embedding) is supplied by the caller,
because that is where the two models differ and where the 32x32 adaptation happens.

:class:`PreNormResidual` is the form both ResNet grafts use to insert their gate into a basic
block: ``A(F) = F + gamma * Gate(BN(F))``, the attention half of the block above without the
1x1 projections (see the graft docstrings for why the bare gate is unsafe there).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn as nn
from timm.layers import DropPath, trunc_normal_

from .layers import LayerNorm2d, check_drop_path_rate

GatingFactory = Callable[[int], nn.Module]
"""``factory(channels)`` returning a shape-preserving spatial gating unit (MSCA, LSK, ...)."""


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool, else raise a ValueError naming the switch."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def van_graft(depth: int, attention: type[nn.Module], factory: Callable[[int], nn.Module], attn: bool,
              attn_position: str, num_classes: int, width: float) -> nn.Module:
    """A CIFAR ResNet with a VAN-family attention module grafted into every basic block, the
    grafted modules initialised as the official code does (:func:`van_init`); the backbone keeps
    its own init."""
    from .resnet import CifarResNet, basic_block_factory, scaled_widths

    model = CifarResNet(depth, basic_block_factory(factory if attn else None, attn_position),
                        num_classes=num_classes, widths=scaled_widths(width))
    for m in model.modules():
        if isinstance(m, attention):
            m.apply(van_init)
    return model


def van_init(m: nn.Module) -> None:
    """The official VAN/MSCAN/LSKNet init (``m.apply(van_init)``): He-normal with the fan-out per
    group for convs, ``std = sqrt(2 / fan_out)``, ``fan_out = k_h k_w C_out / groups``, so a
    depthwise 5x5 at any width starts at std sqrt(2/25) = 0.283; truncated normal (std 0.02) for
    linear layers; zero biases; unit norms."""
    if isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
        nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def patch_embed(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 2) -> nn.Sequential:
    """Overlapping patch embedding: ``kernel_size`` conv with ``stride`` (padding k//2), then BN."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2),
        nn.BatchNorm2d(out_channels),
    )


class DepthwiseConvMlp(nn.Module):
    """The feed-forward part: 1x1 expand, depthwise 3x3, GELU, 1x1 project."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.dwconv(self.fc1(x))))


class SpatialAttention(nn.Module):
    """``Z + Proj2(Gate(GELU(Proj1(Z))))``: the gating unit wrapped in 1x1 convs and a shortcut."""

    def __init__(self, channels: int, gating: GatingFactory) -> None:
        super().__init__()
        self.proj1 = nn.Conv2d(channels, channels, 1)
        self.act = nn.GELU()
        self.gate = gating(channels)
        self.proj2 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj2(self.gate(self.act(self.proj1(x))))


def fp32_under_cpu_autocast(module: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Run ``module`` in fp32 when CPU bf16 autocast is on; otherwise as usual.

    Works around two oneDNN faults seen with torch 2.14.1 on an AVX-512 BF16 CPU, both in bf16
    depthwise convs with channels_last tensors: a 1x21 strip conv at 16 channels does not finish
    in minutes (MSCA), and a dilated 7x7 conv (dilation 3) returns a wrong weight gradient, so
    an LSK graft stayed at chance level. These convs are a few percent of the FLOPs; GPU and
    fp32 runs are untouched. Returns the input's dtype.
    """
    if x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return module(x.float()).to(x.dtype)
    return module(x)


class PreNormResidual(nn.Module):
    """``x + gamma * gate(BN(x))``: a multiplicative gate made safe for un-normalised inputs.

    A bare gate ``Att(x) * x`` is quadratic in ``x``; after a residual add, where ``x`` is not
    normalised, stacking such blocks squares the activation scale block after block. Normalising
    the gate's input and adding it residually keeps each block's contribution O(1). The
    per-channel layer scale ``gamma`` (MSCAN/LSKNet blocks use 1e-2) starts the gate small: with
    ``gamma = 1`` an MSCA graft trained with SGD at lr 0.1 blew up in its first epoch (test loss
    ~4e6 on the CIFAR-10 JPEGs, graftcheck preset); ``layer_scale=None`` turns it off.
    """

    def __init__(self, channels: int, gate: nn.Module, layer_scale: float | None = 1e-2) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels)
        self.gate = gate
        self.gamma = (nn.Parameter(torch.full((channels, 1, 1), float(layer_scale)))
                      if layer_scale is not None else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.gate(self.norm(x))
        return x + (self.gamma * out if self.gamma is not None else out)


class VanBlock(nn.Module):
    """One MSCAN/LSKNet block: BN-attention and BN-MLP residual branches with layer scale."""

    def __init__(
        self,
        channels: int,
        mlp_ratio: float,
        gating: GatingFactory,
        drop_path: float = 0.0,
        layer_scale_init: float = 1e-2,
    ) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(channels)
        self.attn = SpatialAttention(channels, gating)
        self.norm2 = nn.BatchNorm2d(channels)
        self.mlp = DepthwiseConvMlp(channels, int(channels * mlp_ratio))
        self.gamma1 = nn.Parameter(torch.full((channels, 1, 1), layer_scale_init))
        self.gamma2 = nn.Parameter(torch.full((channels, 1, 1), layer_scale_init))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.gamma1 * self.attn(self.norm1(x)))
        return x + self.drop_path(self.gamma2 * self.mlp(self.norm2(x)))


class VanStage(nn.Module):
    """Patch embedding, ``len(drop_paths)`` blocks, channel LayerNorm."""

    def __init__(
        self,
        embed: nn.Module,
        channels: int,
        mlp_ratio: float,
        gating: GatingFactory,
        drop_paths: Sequence[float],
    ) -> None:
        super().__init__()
        self.embed = embed
        self.blocks = nn.Sequential(*(VanBlock(channels, mlp_ratio, gating, p) for p in drop_paths))
        self.norm = LayerNorm2d(channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.blocks(self.embed(x)))


class VanStyleNet(nn.Module):
    """Four-stage VAN-style classifier (MSCAN, LSKNet).

    Args:
        stem: first patch embedding, mapping 3 channels to ``dims[0]``; later stages use a 3x3
            stride-2 :func:`patch_embed`.
        dims: stage widths.
        depths: blocks per stage.
        mlp_ratios: MLP hidden width / stage width, per stage.
        gating: spatial gating unit factory used in every block.
        num_classes: classifier outputs.
        drop_path_rate: stochastic depth of the last block (linear from 0).
    """

    def __init__(
        self,
        stem: nn.Module,
        dims: Sequence[int],
        depths: Sequence[int],
        mlp_ratios: Sequence[float],
        gating: GatingFactory,
        num_classes: int = 100,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if not len(dims) == len(depths) == len(mlp_ratios):
            raise ValueError("dims, depths and mlp_ratios need one entry per stage")
        check_drop_path_rate(drop_path_rate)
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        stages, start = [], 0
        for i, (dim, depth, ratio) in enumerate(zip(dims, depths, mlp_ratios)):
            embed = stem if i == 0 else patch_embed(dims[i - 1], dim)
            stages.append(VanStage(embed, dim, ratio, gating, rates[start:start + depth]))
            start += depth
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(dims[-1], num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        van_init(m)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.forward_features(x)), 1))
