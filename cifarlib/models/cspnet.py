"""CSPNet: Cross Stage Partial networks (Wang et al., CVPRW 2020, arXiv:1911.11929).

A cross-stage partial (CSP) stage splits its base feature map ``x_0`` along channels into
``x_0'`` (kept) and ``x_0''`` (processed). Only ``x_0''`` runs through the stage's ``n`` blocks;
the two parts meet again at the end of the stage:

    x_n = B_n( ... B_1(x_0'') )                      (the blocks see part 2 only)
    x_T = w_T * x_n                                  (transition on the block path)
    x_U = w_U * [x_0', x_T]                          (transition on the concatenation)  (paper sec. 3.1)

where ``w_T``, ``w_U`` are 1x1 conv + BN + ReLU "transition" layers and ``[.,.]`` is
concatenation. Because the gradient reaching ``x_0'`` never passes through the blocks, the two
paths carry different gradient information, and the blocks work on fewer channels (less
computation). The paper's partial-transition study (its Fig. 3) compares where the fusion
happens:

* ``fusion="last"``  (default; the paper's "fusion last"):  ``y = [x_0', w_T * x_n]``;
* ``fusion="first"`` (the paper's "fusion first"):          ``y = w_U * [x_0', x_n]``;
* ``fusion="both"``  (the full CSPDenseNet / timm ``CrossStage`` form): ``y = w_U * [x_0', w_T * x_n]``.

Graft (``csp_resnet{depth}``): a ``stage_builder`` for :class:`CifarResNet` that wraps each
stage's basic blocks in a CSP stage. When the stage changes resolution or width (stages 2 and 3)
the base layer is a 3x3 conv + BN + ReLU with the stage's stride (timm's ``conv_down``), because
the blocks no longer see the full input; stage 1 splits the stem's output directly. The split is
then ``round(split_ratio * width)`` channels for the blocks (which all run at that width, stride
1) and the rest for the cross-stage path. Budget choice: the stage widths stay 16/32/64 and
nothing is widened, so with the default ``split_ratio=0.5`` the blocks have a quarter of the
backbone's block weights and ``csp_resnet20`` is ~0.10M parameters (resnet20: 0.278M); reducing
cost at equal depth is CSPNet's stated aim. ``split_ratio=1.0`` sends every channel through
the blocks: there is no cross-stage path any more, and each stage is the backbone's ``n``
full-width blocks (all stride 1) behind the strided 3x3 base conv and before one 1x1 transition
(~0.33M), the control that isolates the partial split. Nothing needed changing for 32x32 inputs in the graft.

Full-size ``cspresnet50`` (timm's CSPResNet-50: 7x7 stem, four CSP stages of 3/3/5/2 bottleneck
blocks with 2x expansion before the split and both transitions): for 32x32 inputs the 7x7 stem
conv has stride 1 instead of 2 and its 3x3/2 max-pool is removed (an ``nn.Identity``), so the
stages run on 32, 16, 8 and 4 pixels (final map 4x4 instead of 1x1). Nothing else is changed.
"""

from __future__ import annotations

from typing import Literal

import timm
import torch
import torch.nn as nn

from .registry import register_graft, register_model
from .resnet import BlockFactory, CifarResNet, scaled_widths, StageBuilder, basic_block_factory

Fusion = Literal["last", "first", "both"]
FUSIONS: tuple[str, ...] = ("last", "first", "both")


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1) -> nn.Sequential:
    """Conv (no bias) + BN + ReLU: the paper's transition layer for ``kernel_size=1``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def check_split(split_ratio: float, fusion: str) -> None:
    """Raise ``ValueError`` for a split ratio outside ``(0, 1]`` or an unknown fusion."""
    if isinstance(split_ratio, bool) or not isinstance(split_ratio, (int, float)) or not 0 < split_ratio <= 1:
        raise ValueError(f"split_ratio must be a number in (0, 1] (e.g. 0.25, 0.5, 1.0), got {split_ratio!r}")
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")


class CrossStagePartial(nn.Module):
    """One CSP stage around ``num_blocks`` residual blocks (see the module docstring).

    Args:
        in_channels, out_channels: stage input and output widths.
        num_blocks: blocks on the processed path, all at ``block_channels`` width and stride 1.
        stride: the stage's stride (taken by the 3x3 base-layer conv).
        block: ``factory(in, out, stride)`` for the blocks.
        split_ratio: fraction of ``out_channels`` that goes through the blocks, in ``(0, 1]``.
        fusion: ``"last"``, ``"first"`` or ``"both"`` (which transitions exist).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_blocks: int,
        stride: int,
        block: BlockFactory,
        split_ratio: float = 0.5,
        fusion: Fusion = "last",
    ) -> None:
        super().__init__()
        check_split(split_ratio, fusion)
        self.block_channels = round(out_channels * split_ratio)
        if self.block_channels < 1:
            raise ValueError(f"split_ratio={split_ratio} leaves no channel for the blocks of a {out_channels}-wide stage")
        self.partial_channels = out_channels - self.block_channels
        if stride != 1 or in_channels != out_channels:
            self.base: nn.Module = conv_bn_relu(in_channels, out_channels, 3, stride)
        else:
            self.base = nn.Identity()
        width = self.block_channels
        self.blocks = nn.Sequential(*[block(width, width, 1) for _ in range(num_blocks)])
        self.transition_b = conv_bn_relu(width, width) if fusion in ("last", "both") else nn.Identity()
        self.transition = conv_bn_relu(out_channels, out_channels) if fusion in ("first", "both") else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.base(x)
        kept, processed = x.split([self.partial_channels, self.block_channels], dim=1)
        processed = self.transition_b(self.blocks(processed))
        return self.transition(torch.cat([kept, processed], dim=1) if self.partial_channels else processed)


def csp_stage_builder(split_ratio: float = 0.5, fusion: Fusion = "last") -> StageBuilder:
    """A :data:`StageBuilder` for :class:`CifarResNet` that builds :class:`CrossStagePartial`."""
    check_split(split_ratio, fusion)

    def build(in_channels: int, out_channels: int, num_blocks: int, stride: int, block: BlockFactory) -> nn.Module:
        return CrossStagePartial(in_channels, out_channels, num_blocks, stride, block, split_ratio, fusion)

    return build


@register_graft("csp_resnet{depth}", method="CSPNet")
def csp_resnet(
    depth: int,
    num_classes: int = 100,
    width: float = 1.0,
    split_ratio: float = 0.5,
    fusion: Fusion = "last",
) -> CifarResNet:
    """CIFAR ResNet whose three stages are cross-stage partial stages of basic blocks.

    Args:
        split_ratio: fraction of each stage's channels that goes through its blocks, in (0, 1]
            (default 0.5, the paper's). Block weights scale with its square. ``1.0`` removes the
            cross-stage path: every channel goes through the blocks and only the base layer and
            the transition remain of CSP.
        fusion: ``"last"`` (default; transition on the block path, then concatenate),
            ``"first"`` (concatenate, then one transition over all channels) or ``"both"``.
    """
    stage = csp_stage_builder(split_ratio, fusion)
    return CifarResNet(
        depth, basic_block_factory(), num_classes=num_classes, stage_builder=stage, widths=scaled_widths(width)
    )


@register_model("cspresnet50", family="full", method="CSPNet")
def cspresnet50(num_classes: int = 100) -> nn.Module:
    """timm's CSPResNet-50 for 32x32 inputs: the 7x7 stem conv gets stride 1 (was 2) and the
    stem's max-pool is removed, so the final feature map is 4x4. Randomly initialised."""
    model = timm.create_model("cspresnet50", pretrained=False, num_classes=num_classes)
    model.stem.conv1.conv.stride = (1, 1)
    model.stem.pool = nn.Identity()
    return model
