"""LSKNet's Large Selective Kernel attention (Li et al., "Large Selective Kernel Network for Remote
Sensing Object Detection", ICCV 2023, arXiv:2303.09030).

LSK builds a large receptive field from a *decomposed* depthwise kernel and lets every position
choose how much of each scale it uses. With ``U_1 = DW5x5(X)`` (receptive field 5) and
``U_2 = DW7x7_dil3(U_1)`` (receptive field 5 + 19 - 1 = 23):

    Ũ_i = Conv1x1_i(U_i)  (C -> C/2),   Ũ = [Ũ_1; Ũ_2]
    SA  = [ mean_c(Ũ); max_c(Ũ) ]        (channel-wise avg and max pooling, 2 maps)
    Ŝ   = sigmoid( Conv7x7(SA) )         (2 -> 2: one spatial mask per branch)
    S   = Conv1x1( Ŝ_1 * Ũ_1 + Ŝ_2 * Ũ_2 )   (C/2 -> C)
    Y   = X ⊗ S

Graft (``lsk_resnet{depth}``): LSK is the ``attn`` of every ResNet basic block (after the second
BN, before the add; or on the sum, ``post_add``), at the block's full width with the paper's C/2
branch reduction, in the residual, pre-normalised form the LSKNet block uses around it (without
the 1x1 projections and layer scale):

    A(X) = X + gamma * LSK(BN(X))   (``residual=True``, default; gamma: layer scale, init 1e-2)
    A(X) = LSK(X) = X ⊗ S(X)     (``residual=False``: the bare module)

The bare module is quadratic in X, and after the add (``post_add``) X is not normalised, so
stacked blocks square the activation scale (the SegNeXt graft's docstring gives the measured
failure; LSK behaves the same way). Per block of width C the graft adds 1.5C^2 + 2C (three 1x1
convs) + 76C (5x5 and 7x7 depthwise, with biases) + 198 (the 2->2 7x7 selection conv) + 3C (BN, layer scale);
ResNet-20 grows from 0.278M to ~0.33M, inside the 0.1-0.8M budget, so the backbone widths
16/32/64 are kept. On 32x32 inputs the third stage is 8x8: the dilated 7x7 (taps at offsets
-9..9 step 3) then reaches only the offsets -6..6 inside the map, so part of its kernel always
sees zero padding there.

Switches: ``decompose=False`` replaces the decomposition by one undecomposed depthwise kernel
of the same receptive field: branch 1 stays ``DW5x5(X)``, branch 2 becomes ``DW23x23(X)`` (in
parallel, rather than the dilated 7x7 applied to branch 1). Both give branch 2 a dense 23x23
receptive field, but the large kernel has 23^2 = 529 instead of 7^2 = 49 weights per channel:
+480C parameters per block and +480 multiply-adds per channel per position (554 vs 74 for the
two depthwise convs together), i.e. about +0.16M parameters for ResNet-20.
``selection=False`` drops the spatial selection (no pooling, 7x7 conv or sigmoid): the two
branches are simply summed, ``S = Conv1x1(Ũ_1 + Ũ_2)``, saving 198 parameters per block.

Full-size (``lsknet_t``): LSKNet-T written here (timm has no LSKNet) on the shared VAN-style
skeleton of :mod:`.van_stages`: widths 32/64/160/256, depths 3/3/5/2, MLP ratios 8/8/4/4, BN in
the blocks, layer scale 1e-2, drop path 0.1, plus a classification head (last LayerNorm, global
average pool, linear). Change for 32x32: the first overlapping patch embedding (7x7 conv,
stride 4, 224 -> 56) keeps its 7x7 kernel but uses stride 1, so the stages run at 32/16/8/4
instead of 8/4/2/1.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .registry import register_graft, register_model
from .resnet import AttnPosition, CifarResNet
from .van_stages import (
    PreNormResidual, VanStyleNet, check_bool, fp32_under_cpu_autocast, patch_embed, van_graft,
)

RECEPTIVE_FIELD = 23
"""Receptive field of the large branch: 5 + (7 - 1) * 3 = 23 (decomposed) or one 23x23 kernel."""


class LSKAttention(nn.Module):
    """Large selective kernel attention ``X * Conv1x1(select(Ũ_1, Ũ_2))``.

    Args:
        channels: input (= output) channels (>= 2; branches use ``channels // 2``).
        decompose: ``True``: branch 2 = DW7x7 dilation 3 of branch 1 (the paper); ``False``:
            branch 2 = one DW23x23 conv of the input (same receptive field, 480 more weights per
            channel).
        selection: ``True``: per-position sigmoid masks from channel avg/max pooling and a 7x7
            conv; ``False``: plain sum of the two branches.
    """

    def __init__(self, channels: int, decompose: bool = True, selection: bool = True) -> None:
        super().__init__()
        if channels < 2:
            raise ValueError(f"LSKAttention needs channels >= 2, got {channels}")
        self.decompose = check_bool("decompose", decompose)
        self.selection = check_bool("selection", selection)
        half = channels // 2
        self.dw_small = nn.Conv2d(channels, channels, 5, padding=2, groups=channels)
        if decompose:
            self.dw_large = nn.Conv2d(channels, channels, 7, padding=9, dilation=3, groups=channels)
        else:
            k = RECEPTIVE_FIELD
            self.dw_large = nn.Conv2d(channels, channels, k, padding=k // 2, groups=channels)
        self.reduce_small = nn.Conv2d(channels, half, 1)
        self.reduce_large = nn.Conv2d(channels, half, 1)
        self.select = nn.Conv2d(2, 2, 7, padding=3) if selection else None
        self.proj = nn.Conv2d(half, channels, 1)

    def spatial_branches(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(U_1, U_2)``: the depthwise outputs with receptive fields 5 and 23."""
        small = self.dw_small(x)
        # fp32 under CPU autocast: oneDNN's bf16 channels_last dilated depthwise conv gives a
        # wrong weight gradient (see fp32_under_cpu_autocast).
        return small, fp32_under_cpu_autocast(self.dw_large, small if self.decompose else x)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The attention map ``S`` (before multiplying the input)."""
        small, large = self.spatial_branches(x)
        small, large = self.reduce_small(small), self.reduce_large(large)
        if self.select is None:
            mixed = small + large
        else:
            both = torch.cat([small, large], dim=1)
            pooled = torch.cat([both.mean(dim=1, keepdim=True), both.amax(dim=1, keepdim=True)], dim=1)
            masks = torch.sigmoid(self.select(pooled))
            mixed = small * masks[:, 0:1] + large * masks[:, 1:2]
        return self.proj(mixed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


@register_graft("lsk_resnet{depth}", method="LSKNet")
def lsk_resnet(
    depth: int,
    num_classes: int = 100,
    width: float = 1.0,
    attn: bool = True,
    attn_position: AttnPosition = "pre_add",
    decompose: bool = True,
    selection: bool = True,
    residual: bool = True,
) -> CifarResNet:
    """CIFAR ResNet with an LSK attention module in every basic block.

    Args:
        attn: ``False`` removes LSK (the model is then exactly the plain ResNet).
        attn_position: ``"pre_add"`` (on the residual branch, default) or ``"post_add"``.
        decompose: ``True`` (paper): DW5x5 then DW7x7 dilation 3; ``False``: DW5x5 and an
            undecomposed DW23x23 in parallel (+480C parameters per block, ~+0.16M at depth 20).
        selection: ``True`` (paper): spatial selection masks; ``False``: plain sum of branches
            (-198 parameters per block).
        residual: ``True``: ``A(X) = X + gamma * LSK(BN(X))`` (LSKNet-style, stable in both positions);
            ``False``: the bare ``LSK(X) = X * S(X)`` (3C fewer parameters per block; diverges
            with ``post_add``).
    """
    check_bool("decompose", decompose)
    check_bool("selection", selection)
    check_bool("residual", residual)

    def factory(c: int) -> nn.Module:
        gate = LSKAttention(c, decompose, selection)
        return PreNormResidual(c, gate) if residual else gate

    return van_graft(depth, LSKAttention, factory, attn, attn_position, num_classes, width)


@register_model("lsknet_t", family="full", method="LSKNet")
def lsknet_t(
    num_classes: int = 100,
    decompose: bool = True,
    selection: bool = True,
    drop_path_rate: float = 0.0,
) -> VanStyleNet:
    """LSKNet-T (widths 32/64/160/256, depths 3/3/5/2, MLP ratios 8/8/4/4) with a classifier head;
    the first patch embedding is a 7x7 conv with stride 1 instead of 4 (stages at 32/16/8/4).

    Args:
        decompose: as in :func:`lsk_resnet`, for every LSK module.
        selection: as in :func:`lsk_resnet`, for every LSK module.
        drop_path_rate: stochastic depth of the last block (linear from 0; paper 0.1, here 0 by
            the kit's regularisation rule, see :mod:`cifarlib.models.adaptation`).
    """
    check_bool("decompose", decompose)
    check_bool("selection", selection)
    dims = (32, 64, 160, 256)
    return VanStyleNet(
        stem=patch_embed(3, dims[0], kernel_size=7, stride=1),
        dims=dims,
        depths=(3, 3, 5, 2),
        mlp_ratios=(8, 8, 4, 4),
        gating=lambda c: LSKAttention(c, decompose, selection),
        num_classes=num_classes,
        drop_path_rate=drop_path_rate,
    )
