"""CIFAR ResNet backbone (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016,
arXiv:1512.03385, section 4.2).

A 3x3 stem conv with 16 channels, then three stages of ``n`` blocks with widths 16/32/64 on
feature maps 32x32/16x16/8x8 (stride 2 at the first block of stages 2 and 3), global average
pooling and a linear classifier: depth ``6n + 2``. Each basic block computes

    y = ReLU(F(x) + S(x)),   F = BN . Conv3x3 . ReLU . BN . Conv3x3

where the shortcut ``S`` is the identity, or a 1x1 conv + BN projection when the shape changes
(option B of the paper; option A's zero padding has no parameters, a difference of ~0.01M
parameters at this size; the two have not been compared in accuracy here).

The backbone is the chassis every graft reuses: ``CifarResNet`` takes one *block factory* per
stage (``factory(in_channels, out_channels, stride) -> nn.Module``) and an optional *stage
builder* (for designs such as CSPNet that rewire a whole stage). :class:`BasicBlock` itself has an
``attn`` hook so that channel/spatial attention modules (ECA, MSCA, LSK, ...) can be inserted
either on the residual branch before the add (``attn_position="pre_add"``, SE-style) or on the
sum after the add (``"post_add"``).
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import torch
import torch.nn as nn

from .registry import register_model

BlockFactory = Callable[[int, int, int], nn.Module]
"""``factory(in_channels, out_channels, stride)`` returning one residual block."""

AttnFactory = Callable[[int], nn.Module]
"""``factory(channels)`` returning a shape-preserving attention module."""

StageBuilder = Callable[[int, int, int, int, BlockFactory], nn.Module]
"""``builder(in_channels, out_channels, num_blocks, stride, block_factory)`` returning a stage."""

AttnPosition = Literal["pre_add", "post_add"]
ATTN_POSITIONS: tuple[str, ...] = ("pre_add", "post_add")

CIFAR_WIDTHS: tuple[int, int, int] = (16, 32, 64)
WIDTH_DIVISOR = 4


def scaled_widths(width: float = 1.0) -> tuple[int, int, int]:
    """Stage widths ``16w/32w/64w`` each rounded to a multiple of :data:`WIDTH_DIVISOR` (min 4).

    ``width`` is the width multiplier of the backbone and of every graft (1.0: the paper's
    16/32/64); the iso-parameter grafts of :mod:`.iso` use it to match resnet20's size.
    """
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 8:
        raise ValueError(f"width multiplier must be a number in (0, 8], got {width!r}")
    d = WIDTH_DIVISOR
    return tuple(max(d, int(round(base * width / d)) * d) for base in CIFAR_WIDTHS)  # type: ignore[return-value]


def blocks_per_stage(depth: int) -> int:
    """``n`` for a CIFAR ResNet of depth ``6n + 2``; raises for other depths."""
    if depth < 8 or (depth - 2) % 6 != 0:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1 (20, 32, 44, 56, 110), got {depth}")
    return (depth - 2) // 6


def check_attn_position(position: str) -> None:
    """Raise a clear error for an attention position other than ``pre_add``/``post_add``."""
    if position not in ATTN_POSITIONS:
        raise ValueError(f"attn_position must be one of {ATTN_POSITIONS}, got {position!r}")


def projection_shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Identity when shapes match, else 1x1 conv (stride) + BN."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    """ResNet basic block with an optional attention module.

    ``attn_position="pre_add"``: ``y = ReLU(A(F(x)) + S(x))``;
    ``attn_position="post_add"``: ``y = ReLU(A(F(x) + S(x)))``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        attn: AttnFactory | None = None,
        attn_position: AttnPosition = "pre_add",
    ) -> None:
        super().__init__()
        check_attn_position(attn_position)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = projection_shortcut(in_channels, out_channels, stride)
        self.attn = attn(out_channels) if attn is not None else nn.Identity()
        self.attn_position = attn_position

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.attn_position == "pre_add":
            return self.relu(self.attn(out) + self.shortcut(x))
        return self.relu(self.attn(out + self.shortcut(x)))


def basic_block_factory(
    attn: AttnFactory | None = None, attn_position: AttnPosition = "pre_add"
) -> BlockFactory:
    """Block factory for :class:`BasicBlock` with the given attention (``None``: plain ResNet)."""
    check_attn_position(attn_position)

    def factory(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        return BasicBlock(in_channels, out_channels, stride, attn=attn, attn_position=attn_position)

    return factory


def sequential_stage(
    in_channels: int, out_channels: int, num_blocks: int, stride: int, block: BlockFactory
) -> nn.Module:
    """The standard stage: ``num_blocks`` blocks, the first one changing width and stride."""
    layers = [block(in_channels, out_channels, stride)]
    layers += [block(out_channels, out_channels, 1) for _ in range(num_blocks - 1)]
    return nn.Sequential(*layers)


class CifarResNet(nn.Module):
    """The 6n+2 CIFAR ResNet chassis: stem, three stages, pooled linear head.

    Args:
        depth: 6n+2 (20, 32, 44, 56, 110).
        block: one block factory for all stages, or a sequence of three (one per stage; used by
            CoAtNet / Mixer grafts whose later stages differ).
        num_classes: classifier outputs.
        widths: stage widths; the paper's 16/32/64 by default.
        stage_builder: how a stage is assembled from blocks (default :func:`sequential_stage`).
        stem: optional replacement stem module mapping 3 channels to ``widths[0]``.
    """

    def __init__(
        self,
        depth: int,
        block: BlockFactory | Sequence[BlockFactory],
        num_classes: int = 100,
        widths: Sequence[int] = CIFAR_WIDTHS,
        stage_builder: StageBuilder = sequential_stage,
        stem: nn.Module | None = None,
    ) -> None:
        super().__init__()
        n = blocks_per_stage(depth)
        blocks = list(block) if isinstance(block, (list, tuple)) else [block] * len(widths)
        if len(blocks) != len(widths):
            raise ValueError(f"need one block factory per stage ({len(widths)}), got {len(blocks)}")
        self.depth = depth
        self.stem = stem if stem is not None else nn.Sequential(
            nn.Conv2d(3, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        stages = []
        in_channels = widths[0]
        for i, (width, factory) in enumerate(zip(widths, blocks)):
            stages.append(stage_builder(in_channels, width, n, 1 if i == 0 else 2, factory))
            in_channels = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal convs, unit BN, zero-init of nothing (the paper's recipe)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.forward_features(x)), 1))


def _make_resnet(depth: int, num_classes: int = 100, width: float = 1.0) -> CifarResNet:
    return CifarResNet(depth, basic_block_factory(), num_classes=num_classes, widths=scaled_widths(width))


@register_model("resnet20", family="backbone", method="ResNet")
def resnet20(num_classes: int = 100, width: float = 1.0) -> CifarResNet:
    """ResNet-20 (n=3), ~0.28M parameters at 100 classes."""
    return _make_resnet(20, num_classes, width)


@register_model("resnet32", family="backbone", method="ResNet")
def resnet32(num_classes: int = 100, width: float = 1.0) -> CifarResNet:
    """ResNet-32 (n=5), ~0.47M parameters at 100 classes."""
    return _make_resnet(32, num_classes, width)


@register_model("resnet56", family="backbone", method="ResNet")
def resnet56(num_classes: int = 100, width: float = 1.0) -> CifarResNet:
    """ResNet-56 (n=9), ~0.86M parameters at 100 classes."""
    return _make_resnet(56, num_classes, width)
