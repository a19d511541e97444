"""MLP-Mixer: an all-MLP architecture for vision (Tolstikhin et al., NeurIPS 2021, arXiv:2105.01601).

A Mixer layer alternates an MLP across the ``S`` tokens (the same for every channel) and an MLP
across the ``C`` channels (the same for every token), each pre-normed and residual. For a table
``X`` of ``S`` tokens by ``C`` channels (paper eq. 1):

    U_{*,i} = X_{*,i} + W_2 sigma(W_1 LayerNorm(X)_{*,i}),    i = 1..C   (token mixing, S -> D_S -> S)
    Y_{j,*} = U_{j,*} + W_4 sigma(W_3 LayerNorm(U)_{j,*}),    j = 1..S   (channel mixing, C -> D_C -> C)

with ``sigma`` = GELU and biases in every linear layer. As in timm (and the paper's Mixer-S/B/L,
where D_S = C/2 and D_C = 4C), both hidden widths are set relative to the channels:
``D_S = token_expansion * C`` and ``D_C = channel_expansion * C``. :class:`MixerBlock` takes the
token table ``B x S x C`` and matches ``timm.models.mlp_mixer.MixerBlock`` exactly (LayerNorm
eps 1e-6, GELU); :class:`MixerBlock2d` wraps it for ``B x C x H x W`` feature maps (tokens in
row-major order, ``S = H W`` fixed at construction).

Graft (``mixer_resnet{depth}``): the last ``mixer_stages`` stages of the CIFAR ResNet (default
1: stage 3, 8x8 = 64 tokens of 64 channels) replace their basic blocks by Mixer blocks. The first
block of a stage that changes width and resolution stays a strided BasicBlock (it is the
downsampling/projection; stage 1 has none, its width equals the stem's), the remaining ``n - 1``
blocks are Mixer blocks, and a LayerNorm over channels closes the stage (the Mixer's pre-head
norm, so the pooled features or the next conv stage see normalised inputs). Linear weights use
Xavier-uniform and zero biases (timm's init). At depth 20 the two Mixer blocks (37.5k parameters
each at C = 64, S = 64) replace two 74k basic blocks: 0.206M parameters in all, within the
0.1-0.8M budget; ``token_expansion=0.5`` and ``channel_expansion=4`` are the paper's ratios,
unchanged. The token MLP fixes the number of tokens, so the graft needs ``img_size`` x ``img_size``
inputs (32 by default).

Full-size ``mixer_s4``: timm's ``MlpMixer(img_size=32, patch_size=4, embed_dim=512,
num_blocks=8)``, i.e. Mixer-S's width and depth (C = 512, D_S = 256, D_C = 2048, 8 layers) with
4x4 patches instead of 16x16 so that a 32x32 image gives 8x8 = 64 tokens (Mixer-S/16 on 32x32
would see 4 tokens); about 17.2M parameters at 100 classes. Nothing else changed.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
from timm.models.mlp_mixer import MlpMixer

from .layers import LayerNorm2d, check_drop_path_rate
from .registry import register_graft, register_model
from .resnet import BasicBlock, CifarResNet, basic_block_factory, scaled_widths


def _check_expansion(name: str, value: float, dim: int) -> int:
    """Hidden width ``int(value * dim)``; raises unless it is at least 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value * dim) < 1:
        raise ValueError(f"{name} must be a positive number with {name} * channels >= 1, got {value!r}")
    return int(value * dim)


def _mlp(dim: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class MixerBlock(nn.Module):
    """One Mixer layer on tokens ``B x S x C``: token-mixing then channel-mixing MLP (eq. 1).

    Args:
        dim: channels ``C``.
        num_tokens: tokens ``S``.
        token_expansion: ``D_S / C`` (paper and timm: 0.5).
        channel_expansion: ``D_C / C`` (paper and timm: 4).
    """

    def __init__(self, dim: int, num_tokens: int, token_expansion: float = 0.5,
                 channel_expansion: float = 4.0) -> None:
        super().__init__()
        token_hidden = _check_expansion("token_expansion", token_expansion, dim)
        channel_hidden = _check_expansion("channel_expansion", channel_expansion, dim)
        self.num_tokens = num_tokens
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.token_mlp = _mlp(num_tokens, token_hidden)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.channel_mlp = _mlp(dim, channel_hidden)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


class MixerBlock2d(nn.Module):
    """:class:`MixerBlock` on a ``B x C x H x W`` map with ``H W == num_tokens``."""

    def __init__(self, dim: int, num_tokens: int, token_expansion: float = 0.5,
                 channel_expansion: float = 4.0) -> None:
        super().__init__()
        self.block = MixerBlock(dim, num_tokens, token_expansion, channel_expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if h * w != self.block.num_tokens:
            raise ValueError(f"Mixer block built for {self.block.num_tokens} tokens got a {h}x{w} map")
        tokens = self.block(x.flatten(2).transpose(1, 2))  # B x HW x C
        return tokens.transpose(1, 2).reshape(b, c, h, w)


def mixer_stage_factory(
    side: int, token_expansion: float, channel_expansion: float
) -> Callable[[int, int, int], nn.Module]:
    """Block factory for a stage on ``side x side`` maps: strided/widening blocks stay
    :class:`BasicBlock`, shape-preserving ones become :class:`MixerBlock2d`."""

    def factory(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        if stride != 1 or in_channels != out_channels:
            return BasicBlock(in_channels, out_channels, stride)
        return MixerBlock2d(out_channels, side * side, token_expansion, channel_expansion)

    return factory


@register_graft("mixer_resnet{depth}", method="MLP-Mixer")
def mixer_resnet(
    depth: int,
    num_classes: int = 100,
    width: float = 1.0,
    attn: bool = True,
    mixer_stages: int = 1,
    token_expansion: float = 0.5,
    channel_expansion: float = 4.0,
    img_size: int = 32,
) -> CifarResNet:
    """CIFAR ResNet whose last ``mixer_stages`` stages are Mixer blocks after their first block.

    There is no ``attn_position``: a Mixer block is itself a residual block (two of them, token
    and channel), it replaces the basic block instead of sitting inside it.

    Args:
        attn: ``False`` builds the all-conv plain ResNet (Mixer switches are then ignored).
        mixer_stages: how many of the last stages mix with MLPs: 1 (default, stage 3: 64 tokens),
            2 (stages 2-3, 256 and 64 tokens) or 3 (all; stage 1 has 1024 tokens and no
            downsampling block, so all its blocks are Mixer blocks). Depth 20: 0.206M / 0.202M /
            0.247M parameters (stage 1's token MLPs are 1024 x 8 x 2).
        token_expansion: ``D_S / C`` of the token MLP (default 0.5; 32 hidden units at C = 64).
        channel_expansion: ``D_C / C`` of the channel MLP (default 4; 256 hidden units at C = 64).
        img_size: input side the token MLPs are built for (a multiple of 4; default 32).
    """
    if mixer_stages not in (1, 2, 3) or isinstance(mixer_stages, bool):
        raise ValueError(f"mixer_stages must be one of (1, 2, 3), got {mixer_stages!r}")
    if not isinstance(img_size, int) or img_size < 4 or img_size % 4 != 0:
        raise ValueError(f"img_size must be a positive multiple of 4, got {img_size!r}")
    widths = scaled_widths(width)
    for name, value in (("token_expansion", token_expansion), ("channel_expansion", channel_expansion)):
        _check_expansion(name, value, min(widths))
    if not attn:
        return CifarResNet(depth, basic_block_factory(), num_classes=num_classes, widths=widths)
    first_mixer = len(widths) - mixer_stages
    factories = [
        mixer_stage_factory(img_size // 2**i, token_expansion, channel_expansion) if i >= first_mixer
        else basic_block_factory()
        for i in range(len(widths))
    ]
    model = CifarResNet(depth, factories, num_classes=num_classes, widths=widths)
    for i in range(first_mixer, len(widths)):
        model.stages[i].append(LayerNorm2d(widths[i], eps=1e-6))
    return model


@register_model("mixer_s4", family="full", method="MLP-Mixer")
def mixer_s4(num_classes: int = 100, drop_path_rate: float = 0.0) -> MlpMixer:
    """timm MlpMixer with Mixer-S width/depth (512 channels, 8 layers) and 4x4 patches on 32x32
    images (64 tokens), ~17.2M parameters.

    Args:
        drop_path_rate: stochastic depth of the last block (timm's default 0).
    """
    check_drop_path_rate(drop_path_rate)
    return MlpMixer(num_classes=num_classes, img_size=32, patch_size=4, embed_dim=512, num_blocks=8,
                    drop_path_rate=drop_path_rate)
