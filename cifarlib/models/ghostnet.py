"""GhostNet: more features from cheap operations (Han et al., CVPR 2020, arXiv:1911.11907).

A Ghost module replaces an ordinary convolution with ``n`` outputs by a smaller *primary*
convolution with ``m = ceil(n / s)`` outputs (the intrinsic maps) followed by *cheap* depthwise
``d x d`` convolutions that derive ``s - 1`` ghost maps from each intrinsic map (paper eq. 3-4):

    Y' = X * f'                                   (primary conv, m = ceil(n / s) outputs)
    y_ij = Phi_ij(y'_i),  i = 1..m, j = 1..s-1    (depthwise d x d conv, "cheap operations")
    Y = [Y', Phi(Y')][:n]                         (concatenate, keep the first n channels)

Each part is followed by BatchNorm (and ReLU when the module is not the last of its block), as
in the official code and timm's ``GhostModule``. With a ``k x k`` primary conv the parameters drop
from ``c n k^2`` to ``c m k^2 + m (s-1) d^2``, roughly ``s`` times fewer; ``s = 1`` is exactly the
ordinary conv + BN (no cheap part).

Graft (``ghost_resnet{depth}``): as in the paper's CIFAR-10 experiment (Ghost-ResNet-56), both
3x3 convs of every basic block become Ghost modules with a 3x3 primary conv (the first one
carries the block's stride and ends in ReLU, the second one is linear), the shortcut is the
backbone's:

    y = ReLU(G_2(G_1(x)) + S(x))

With the defaults ``ratio=2, dw_kernel=3`` ResNet-20 shrinks from 0.278M to 0.148M parameters
(within the 0.1-0.8M budget; widths stay 16/32/64, the paper's trade: same width, about half the
weights). Nothing needed changing for 32x32 inputs.

Full-size ``ghostnet_100``: timm's ``ghostnet_100`` (GhostNet 1.0x: 16 Ghost bottlenecks, SE in
some of them, 960-channel last stage, 1x1 conv head to 1280 features), built with
``pretrained=False``. The stem plus four stride-2 bottlenecks give an output stride of 32 (7x7
at 224, 1x1 at 32). Changed for 32x32, by the kit's one rule for full-size models (output stride
8, final map 4x4, :mod:`cifarlib.models.adaptation`): the stem conv's stride and the first
stride-2 bottleneck's (its depthwise conv and its shortcut's depthwise conv) are set to 1, so the
maps are 32 (stem and the 16/24-channel blocks), 16, 8 and 4. timm's classifier dropout (0.2, the
paper's) is 0 here by the kit's regularisation rule (``drop_rate`` sets it).
"""

from __future__ import annotations

import math

import timm
import torch
import torch.nn as nn

from .layers import check_positive_int
from .registry import register_graft, register_model
from .resnet import CifarResNet, scaled_widths, projection_shortcut


class GhostModule(nn.Module):
    """Ghost module: primary ``k x k`` conv to ``ceil(n/s)`` maps + depthwise cheap conv, concat.

    Args:
        in_channels: ``c``.
        out_channels: ``n``.
        kernel_size: ``k`` of the primary conv.
        ratio: ``s``; 1 gives the ordinary conv + BN (+ ReLU).
        dw_kernel: ``d`` of the cheap depthwise conv.
        stride: of the primary conv.
        relu: end both parts with ReLU (``False`` for the linear, last module of a block).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        ratio: int = 2,
        dw_kernel: int = 3,
        stride: int = 1,
        relu: bool = True,
    ) -> None:
        super().__init__()
        check_positive_int("ratio", ratio)
        check_positive_int("dw_kernel", dw_kernel, odd=True)
        self.out_channels = out_channels
        intrinsic = math.ceil(out_channels / ratio)
        ghosts = intrinsic * (ratio - 1)

        def act() -> nn.Module:
            return nn.ReLU(inplace=True) if relu else nn.Identity()

        self.primary = nn.Sequential(
            nn.Conv2d(in_channels, intrinsic, kernel_size, stride, kernel_size // 2, bias=False),
            nn.BatchNorm2d(intrinsic),
            act(),
        )
        self.cheap = nn.Sequential(
            nn.Conv2d(intrinsic, ghosts, dw_kernel, 1, dw_kernel // 2, groups=intrinsic, bias=False),
            nn.BatchNorm2d(ghosts),
            act(),
        ) if ghosts > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.primary(x)
        if self.cheap is None:
            return y
        return torch.cat([y, self.cheap(y)], dim=1)[:, : self.out_channels]


class GhostBasicBlock(nn.Module):
    """Basic block whose two 3x3 convs are Ghost modules: ``ReLU(G2(G1(x)) + S(x))``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, ratio: int = 2,
                 dw_kernel: int = 3) -> None:
        super().__init__()
        self.ghost1 = GhostModule(in_channels, out_channels, 3, ratio, dw_kernel, stride, relu=True)
        self.ghost2 = GhostModule(out_channels, out_channels, 3, ratio, dw_kernel, 1, relu=False)
        self.shortcut = projection_shortcut(in_channels, out_channels, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.ghost2(self.ghost1(x)) + self.shortcut(x))


@register_graft("ghost_resnet{depth}", method="GhostNet")
def ghost_resnet(
    depth: int, num_classes: int = 100, width: float = 1.0, ratio: int = 2, dw_kernel: int = 3
) -> CifarResNet:
    """CIFAR ResNet whose 3x3 convs are Ghost modules.

    Args:
        ratio: ``s``, intrinsic maps ``ceil(n/s)`` per module (default 2: depth 20 has 0.148M
            parameters; 3: 0.108M; 4: 0.082M). ``1`` turns every module into the plain conv + BN,
            which is exactly the backbone (same parameters, same function).
        dw_kernel: odd kernel ``d`` of the cheap depthwise conv (default 3); each ghost channel
            has ``d^2`` weights (depth 20: 0.145M / 0.148M / 0.153M for d = 1 / 3 / 5).
    """
    check_positive_int("ratio", ratio)
    check_positive_int("dw_kernel", dw_kernel, odd=True)

    def factory(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        return GhostBasicBlock(in_channels, out_channels, stride, ratio, dw_kernel)

    return CifarResNet(depth, factory, num_classes=num_classes, widths=scaled_widths(width))


@register_model("ghostnet_100", family="full", method="GhostNet")
def ghostnet_100(num_classes: int = 100, drop_rate: float = 0.0) -> nn.Module:
    """timm GhostNet 1.0x (~4.0M parameters at 100 classes) for 32x32 inputs: stem and first
    stride-2 bottleneck at stride 1, output stride 8, final map 4x4 (see the module docstring).

    Args:
        drop_rate: dropout before the classifier (paper and timm: 0.2; here 0 by the kit's
            regularisation rule).
    """
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate!r}")
    model = timm.create_model("ghostnet_100", pretrained=False, num_classes=num_classes, drop_rate=drop_rate)
    model.conv_stem.stride = (1, 1)
    first = next(b for stage in model.blocks for b in stage if getattr(b, "conv_dw", None) is not None)
    first.conv_dw.stride = (1, 1)
    first.shortcut[0].stride = (1, 1)  # the shortcut's depthwise conv carries the same stride
    return model
