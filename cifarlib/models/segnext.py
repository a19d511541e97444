"""SegNeXt's Multi-Scale Convolutional Attention (Guo et al., "SegNeXt: Rethinking Convolutional
Attention Design for Semantic Segmentation", NeurIPS 2022, arXiv:2209.08575).

MSCA builds an attention map from convolutions only: a 5x5 depthwise conv aggregates local
context, three branches of depthwise *strip* convolutions (1xk followed by kx1, k = 7, 11, 21)
add multi-scale, strip-shaped context cheaply (2k weights per channel instead of k^2), a 1x1
conv mixes channels, and the map multiplies the input element-wise:

    Att = Conv1x1( sum_{i=0..3} Scale_i(DW-Conv(F)) ),    Out = Att ⊗ F

where ``Scale_0`` is the identity and ``Scale_i`` (i = 1..3) is the i-th strip branch. There is
no sigmoid: the map is an unbounded, input-dependent gate, as in VAN's large-kernel attention.

Graft (``msca_resnet{depth}``): MSCA is the ``attn`` of every ResNet basic block (after the
second BN, before the add; or on the sum, ``post_add``), in the residual, pre-normalised form the
MSCAN block uses around it (its BN -> attention -> add, without the 1x1 projections and layer
scale):

    A(F) = F + gamma * Att(BN(F)) ⊗ BN(F)  (``residual=True``, default; gamma: layer scale 1e-2)
    A(F) = Att(F) ⊗ F                      (``residual=False``: the bare equation above)

The bare gate is quadratic in F. Before the add F is a BN output, but after the add
(``post_add``) it is an un-normalised sum and stacked blocks square its scale: in our check a
depth-20 bare ``post_add`` graft reached NaN within three SGD steps (batch 16, lr 0.1) and at
depth 56 the forward pass at initialisation already overflows. The residual form trained in
both positions in the same check; it costs 3C parameters per block more (BN and a per-channel
layer scale initialised to 1e-2 as in MSCAN, without which SGD at lr 0.1 diverged in epoch 1).
MSCA works at the block's full width (no reduction): per block of width C the graft adds
C^2 + C (1x1 mix) + 26C (5x5) + sum_k 2(k+1)C (strips) + 3C (BN, layer scale) parameters, i.e. C^2 + 114C
for the default kernels; ResNet-20 grows from 0.278M to ~0.33M, inside the 0.1-0.8M budget,
so the backbone widths 16/32/64 are kept.
Note on 32x32 inputs: the third stage runs at 8x8, where a strip branch (1xk then kx1, i.e. a
separable k x k kernel) with k = 21 (padding 10) sees the whole map from every position, so that
branch is effectively global there (and k = 11 nearly so); the branches only differ in reach
at 32x32 and 16x16.

Full-size (``segnext_mscan_t``): the MSCAN-T encoder written here (timm has no MSCAN) on the
shared VAN-style skeleton of :mod:`.van_stages`: widths 32/64/160/256, depths 3/3/5/2, MLP ratios
8/8/4/4, BN inside blocks, layer scale 1e-2, drop path 0.1, with a classification head (last
LayerNorm, global average pool, linear). Change for 32x32: the paper's stem is two 3x3 stride-2
convs (a /4 reduction, 224 -> 56); here both convs have stride 1, so the four stages run at
32/16/8/4 instead of 8/4/2/1 (which would leave a 1x1 map from stage 4 on).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from .registry import register_graft, register_model
from .resnet import AttnPosition, CifarResNet
from .van_stages import PreNormResidual, VanStyleNet, check_bool, fp32_under_cpu_autocast, van_graft

DEFAULT_BRANCHES: tuple[int, ...] = (7, 11, 21)


def check_branches(branches: Sequence[int]) -> tuple[int, ...]:
    """Validate the strip kernel sizes: distinct odd integers >= 3 (possibly none)."""
    if isinstance(branches, (str, bytes)) or not isinstance(branches, (tuple, list)):
        raise ValueError(f"branches must be a tuple of distinct odd kernel sizes >= 3 such as "
                         f"(7, 11, 21) or (), got {branches!r}")
    out = tuple(branches)
    if any(not isinstance(k, int) or isinstance(k, bool) or k < 3 or k % 2 == 0 for k in out) \
            or len(set(out)) != len(out):
        raise ValueError(f"branches must be a tuple of distinct odd kernel sizes >= 3 such as "
                         f"(7, 11, 21) or (), got {branches!r}")
    return out


class StripConv(nn.Sequential):
    """Depthwise 1xk then kx1 convolution (a separable k x k depthwise kernel, 2k weights).

    Under CPU autocast it runs in fp32 (see :func:`.van_stages.fp32_under_cpu_autocast`: bf16
    channels_last 1x21 depthwise convs hang in oneDNN). ``state_dict`` keys stay ``0.*``/``1.*``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fp32_under_cpu_autocast(super().forward, x)


def strip_conv(channels: int, k: int) -> StripConv:
    """Depthwise 1xk then kx1 convolution (see :class:`StripConv`)."""
    return StripConv(
        nn.Conv2d(channels, channels, (1, k), padding=(0, k // 2), groups=channels),
        nn.Conv2d(channels, channels, (k, 1), padding=(k // 2, 0), groups=channels),
    )


class MSCA(nn.Module):
    """Multi-scale convolutional attention: ``(Conv1x1(D + sum_k Strip_k(D))) * x``, ``D = DW5x5(x)``.

    Args:
        channels: input (= output) channels.
        branches: strip kernel sizes, one branch each; ``()`` keeps only the 5x5 depthwise conv.
    """

    def __init__(self, channels: int, branches: Sequence[int] = DEFAULT_BRANCHES) -> None:
        super().__init__()
        self.branches = check_branches(branches)
        self.dw = nn.Conv2d(channels, channels, 5, padding=2, groups=channels)
        self.strips = nn.ModuleList(strip_conv(channels, k) for k in self.branches)
        self.mix = nn.Conv2d(channels, channels, 1)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The attention map ``Att`` (before multiplying the input)."""
        local = self.dw(x)
        att = local
        for strip in self.strips:
            att = att + strip(local)
        return self.mix(att)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x) * x


@register_graft("msca_resnet{depth}", method="SegNeXt")
def msca_resnet(
    depth: int,
    num_classes: int = 100,
    width: float = 1.0,
    attn: bool = True,
    attn_position: AttnPosition = "pre_add",
    branches: Sequence[int] = DEFAULT_BRANCHES,
    residual: bool = True,
) -> CifarResNet:
    """CIFAR ResNet with an MSCA module in every basic block.

    Args:
        attn: ``False`` removes MSCA (the model is then exactly the plain ResNet).
        attn_position: ``"pre_add"`` (on the residual branch, default) or ``"post_add"``.
        branches: strip kernel sizes (default the paper's ``(7, 11, 21)``); each branch costs
            ``2(k + 1)`` parameters per channel; ``()`` leaves only the 5x5 depthwise conv and the
            1x1 mix. At the 8x8 third stage a 21-tap strip already covers the whole map.
        residual: ``True``: ``A(F) = F + gamma * MSCA(BN(F))`` (MSCAN-style, stable in both positions);
            ``False``: the bare ``MSCA(F) = Att(F) * F`` (3C fewer parameters per block; diverges
            with ``post_add``).
    """
    kernels = check_branches(branches)
    residual = check_bool("residual", residual)

    def factory(c: int) -> nn.Module:
        return PreNormResidual(c, MSCA(c, kernels)) if residual else MSCA(c, kernels)

    return van_graft(depth, MSCA, factory, attn, attn_position, num_classes, width)


def mscan_stem(out_channels: int, stride: int = 1) -> nn.Sequential:
    """MSCAN's stem: 3x3 conv to C/2, BN, GELU, 3x3 conv to C, BN (paper: ``stride=2`` each)."""
    return nn.Sequential(
        nn.Conv2d(3, out_channels // 2, 3, stride=stride, padding=1),
        nn.BatchNorm2d(out_channels // 2),
        nn.GELU(),
        nn.Conv2d(out_channels // 2, out_channels, 3, stride=stride, padding=1),
        nn.BatchNorm2d(out_channels),
    )


@register_model("segnext_mscan_t", family="full", method="SegNeXt")
def segnext_mscan_t(
    num_classes: int = 100,
    branches: Sequence[int] = DEFAULT_BRANCHES,
    drop_path_rate: float = 0.0,
) -> VanStyleNet:
    """MSCAN-T (widths 32/64/160/256, depths 3/3/5/2, MLP ratios 8/8/4/4) with a classifier head,
    its stem's two stride-2 convs set to stride 1 for 32x32 inputs (stages at 32/16/8/4).

    Args:
        branches: strip kernel sizes of every MSCA (as in :func:`msca_resnet`).
        drop_path_rate: stochastic depth of the last block (linear from 0; paper 0.1, here 0 by
            the kit's regularisation rule, see :mod:`cifarlib.models.adaptation`).
    """
    kernels = check_branches(branches)
    dims = (32, 64, 160, 256)
    return VanStyleNet(
        stem=mscan_stem(dims[0], stride=1),
        dims=dims,
        depths=(3, 3, 5, 2),
        mlp_ratios=(8, 8, 4, 4),
        gating=lambda c: MSCA(c, kernels),
        num_classes=num_classes,
        drop_path_rate=drop_path_rate,
    )
