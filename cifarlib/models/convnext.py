"""ConvNeXt (Liu et al., "A ConvNet for the 2020s", CVPR 2022, arXiv:2201.03545).

ConvNeXt "modernises" a ResNet towards a Swin Transformer step by step and ends with a pure
ConvNet whose block is an inverted bottleneck with a large depthwise kernel moved to the front
(section 2 of the paper, Fig. 4):

    y = x + gamma * W_2 GELU(W_1 LN(DWConv_{7x7}(x)))

where ``DWConv_{7x7}`` is a depthwise 7x7 convolution (the "token mixer"), ``LN`` a LayerNorm
over the channels of each pixel, ``W_1: C -> 4C`` and ``W_2: 4C -> C`` are 1x1 convolutions
(pointwise linear layers, the "MLP"), ``gamma`` a per-channel *layer scale* initialised to
1e-6, and there is no activation after the residual add. One norm and one activation per
block, unlike a ResNet's BN-ReLU after every conv. Resolution and width change only in separate
*downsampling layers* ``LN -> Conv_{2x2, stride 2}`` between stages.

Graft (``convnext_resnet{depth}``): every BasicBlock of the CIFAR ResNet becomes one ConvNeXt
block at the backbone's widths 16/32/64 (``n`` blocks per stage, depth ``6n+2`` as for the
ResNet); stages 2 and 3 start with a downsampling layer (norm + 2x2 stride-2 conv, 16->32 and
32->64) instead of a strided first block. The backbone's 3x3 stem and pooled linear head are
kept, so only the blocks differ from ``resnet20``. Weights of the ConvNeXt stages use the
paper's init (truncated normal, std 0.02, zero bias). Budget: with the paper's expansion ratio 4
the block costs about ``8C^2`` weights against the basic block's ``18C^2``, so
``convnext_resnet20`` has ~0.17M parameters (resnet20: 0.28M); we keep the paper's ratio rather
than widen the network, and ``expansion=6`` or ``8`` brings it to ~0.23M / ~0.29M.

Full-size (``convnext_tiny``): timm's ConvNeXt-T (depths 3/3/9/3, widths 96/192/384/768,
7x7 kernels, layer scale 1e-6). The ImageNet "patchify" stem (4x4 conv, stride 4) would turn a
32x32 image into 8x8 tokens and the last stage into 1x1; we replace it with a CIFAR-style 3x3
stride-1 conv + LayerNorm (``stem_stride=1``), so the four stages run at 32/16/8/4 and the final
map is 4x4. ``stem_stride=2`` uses a 2x2 stride-2 patchify stem instead (16/8/4/2, about 2/3
of the CPU time). Nothing else changes.
"""

from __future__ import annotations

from typing import Literal

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import LayerNorm2d, PointwiseMlp, check_drop_path_rate
from .registry import register_graft, register_model
from .resnet import BlockFactory, CifarResNet, scaled_widths

Norm = Literal["ln", "bn"]
NORMS: tuple[str, ...] = ("ln", "bn")
Init = Literal["paper", "torch"]
INITS: tuple[str, ...] = ("paper", "torch")


def make_norm(norm: str, channels: int) -> nn.Module:
    """``"ln"``: channel LayerNorm (paper, eps 1e-6); ``"bn"``: BatchNorm2d (ResNet's norm)."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return LayerNorm2d(channels) if norm == "ln" else nn.BatchNorm2d(channels)


class ConvNeXtBlock(nn.Module):
    """``y = x + gamma * MLP(Norm(DWConv_k(x)))``; shape-preserving.

    Args:
        channels: input = output channels.
        kernel_size: odd depthwise kernel size (paper: 7).
        expansion: MLP hidden width ratio (paper: 4).
        layer_scale: initial value of ``gamma`` (paper: 1e-6); ``None`` removes layer scale.
        norm: ``"ln"`` (paper) or ``"bn"``.

    Module names and layout match timm's ``ConvNeXtBlock(conv_mlp=True)`` so that its state_dict
    loads directly (see the tests).
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int = 7,
        expansion: float = 4.0,
        layer_scale: float | None = 1e-6,
        norm: Norm = "ln",
    ) -> None:
        super().__init__()
        _check_switches(kernel_size, expansion, layer_scale, norm)
        self.conv_dw = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        self.norm = make_norm(norm, channels)
        self.mlp = PointwiseMlp(channels, max(1, round(expansion * channels)))
        self.gamma = nn.Parameter(torch.full((channels,), layer_scale)) if layer_scale is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.mlp(self.norm(self.conv_dw(x)))
        if self.gamma is not None:
            out = out * self.gamma.view(1, -1, 1, 1)
        return x + out


class Downsample(nn.Module):
    """The paper's separate downsampling layer: ``Conv_{s x s, stride s}(Norm(x))``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: Norm = "ln") -> None:
        super().__init__()
        self.norm = make_norm(norm, in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, stride, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.norm(x))


def _check_switches(kernel_size: int, expansion: float, layer_scale: float | None, norm: str) -> None:
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer (3, 5, 7, ...), got {kernel_size!r}")
    if not expansion > 0:
        raise ValueError(f"expansion must be a positive number (paper: 4), got {expansion!r}")
    if layer_scale is not None and not layer_scale > 0:
        raise ValueError(f"layer_scale must be None (off) or a positive float (paper: 1e-6), got {layer_scale!r}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def convnext_stage(
    in_channels: int, out_channels: int, num_blocks: int, stride: int, block: BlockFactory, norm: Norm = "ln"
) -> nn.Sequential:
    """A ConvNeXt stage: a downsampling layer where width or stride changes, then the blocks."""
    layers: list[nn.Module] = []
    if stride != 1 or in_channels != out_channels:
        layers.append(Downsample(in_channels, out_channels, stride, norm))
    layers += [block(out_channels, out_channels, 1) for _ in range(num_blocks)]
    return nn.Sequential(*layers)


def _init_convnext(module: nn.Module) -> None:
    """The paper's init for conv/linear layers: truncated normal (std 0.02), zero bias."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@register_graft("convnext_resnet{depth}", method="ConvNeXt")
def convnext_resnet(
    depth: int,
    num_classes: int = 100,
    width: float = 1.0,
    kernel_size: int = 7,
    expansion: float = 4.0,
    layer_scale: float | None = 1e-6,
    norm: Norm = "ln",
    init: Init = "paper",
    head_norm: bool = False,
) -> CifarResNet:
    """CIFAR ResNet whose basic blocks are ConvNeXt blocks (widths 16/32/64).

    Args:
        kernel_size: depthwise kernel (paper 7; 3 gives the ResNet's receptive field per block,
            each +2 in ``k`` adds ``4C(k+1)`` weights per block).
        expansion: MLP ratio (paper 4; parameters per block grow as ``2 * expansion * C^2``).
        layer_scale: ``gamma`` init (paper 1e-6); ``None`` removes the ``C`` scale parameters
            per block (the residual branch is then added at full strength from the start).
        norm: ``"ln"`` (paper, channel LayerNorm) or ``"bn"`` (BatchNorm2d), in blocks and
            downsampling layers alike; both have ``2C`` affine parameters.
        init: ``"paper"`` (truncated normal std 0.02, zero bias, for the ConvNeXt stages) or
            ``"torch"`` (PyTorch's default Kaiming-uniform init, as the ResNet's convs get). A
            diagnosis switch (``benchmarks/convnext_graft_diagnosis.py``).
        head_norm: close the last stage with a channel LayerNorm, the norm the paper puts
            before its classifier (adds ``2C`` parameters). Off by default: the graft keeps the
            backbone's pooled linear head. A diagnosis switch too.
    """
    _check_switches(kernel_size, expansion, layer_scale, norm)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if not isinstance(head_norm, bool):
        raise ValueError(f"head_norm must be True or False, got {head_norm!r}")

    def block(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        return ConvNeXtBlock(out_channels, kernel_size, expansion, layer_scale, norm)

    def stage(in_channels: int, out_channels: int, num_blocks: int, stride: int, factory: BlockFactory) -> nn.Module:
        return convnext_stage(in_channels, out_channels, num_blocks, stride, factory, norm)

    widths = scaled_widths(width)
    model = CifarResNet(depth, block, num_classes=num_classes, stage_builder=stage, widths=widths)
    if init == "paper":
        _init_convnext(model.stages)
    if head_norm:
        model.stages[-1].append(LayerNorm2d(widths[-1]))
    return model


STEM_STRIDES: tuple[int, ...] = (1, 2)


@register_model("convnext_tiny", family="full", method="ConvNeXt")
def convnext_tiny(
    num_classes: int = 100,
    stem_stride: int = 1,
    kernel_size: int = 7,
    layer_scale: float | None = 1e-6,
    drop_path_rate: float = 0.0,
) -> nn.Module:
    """timm ConvNeXt-T (28M parameters) with a 32x32 stem.

    Args:
        stem_stride: 1 (default): 3x3 stride-1 conv + LN, stages at 32/16/8/4;
            2: 2x2 stride-2 patchify conv + LN, stages at 16/8/4/2 (the ImageNet stem is 4x4/4).
        kernel_size: depthwise kernel of every block (paper 7).
        layer_scale: layer-scale init (paper 1e-6), ``None`` for none.
        drop_path_rate: stochastic depth (timm default 0; the paper uses 0.1 for ConvNeXt-T on
            ImageNet-1K).
    """
    if stem_stride not in STEM_STRIDES:
        raise ValueError(f"stem_stride must be one of {STEM_STRIDES}, got {stem_stride!r}")
    _check_switches(kernel_size, 4.0, layer_scale, "ln")
    check_drop_path_rate(drop_path_rate)
    # patch_size=1 makes timm run stage 1 without a stride; we then swap its 1x1 stem conv.
    model = timm.create_model(
        "convnext_tiny", pretrained=False, num_classes=num_classes, patch_size=1,
        kernel_sizes=kernel_size, ls_init_value=layer_scale, drop_path_rate=drop_path_rate,
    )
    width = model.stem[0].out_channels
    if stem_stride == 1:
        model.stem[0] = nn.Conv2d(3, width, 3, padding=1)
    else:
        model.stem[0] = nn.Conv2d(3, width, 2, stride=2)
    _init_convnext(model.stem)
    return model
