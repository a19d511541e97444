"""ResNeSt: Split-Attention Networks (Zhang et al., CVPRW 2022, arXiv:2004.08955).

A split-attention convolution with radix ``r`` and cardinality ``K`` computes ``r * C`` feature
maps with one grouped convolution (``K * r`` groups), followed by BN and ReLU, and views them as
``r`` splits ``U_1 .. U_r`` of ``C`` channels each (every split holds all ``K`` cardinal groups of
``C / K`` channels). The splits are fused by a channel attention over splits:

    s   = GAP(U_1 + ... + U_r)                                   (paper eq. 1, s in R^C)
    z   = ReLU(BN(W_1 s + b_1))                                  (grouped FC, K groups)
    a_i = exp(g_i(z)) / sum_j exp(g_j(z))   (r > 1, softmax over splits, per channel)
    a_1 = sigmoid(g_1(z))                   (r = 1, a gate as in SE-Net)          (paper eq. 2)
    V   = sum_i a_i * U_i                                        (paper eq. 3)

where ``g_i`` are the rows of a second grouped FC (``W_2``, ``K`` groups) that belong to split
``i``; the softmax runs per cardinal group and channel, across the ``r`` splits. The hidden size
of the attention follows the official code: ``max(r * C / 4, 32)`` (rounded up to a multiple of
``K``). Channels are laid out split-major (split ``i`` = channels ``[i*C, (i+1)*C)``), as in the
official implementation and in timm; the paper's figure draws them cardinal-major, which is the
same network up to a permutation of the grouped convolution's input channels.

Graft (``resnest{depth}``): in every basic block of the CIFAR ResNet the first
``Conv3x3 -> BN -> ReLU`` becomes a split-attention conv (which carries its own BN and ReLU) with
the same output width and stride; the second conv, the shortcut and the add are unchanged. The
strided first block of a stage keeps its strided conv (ResNeSt-D's average-pool downsampling is
not grafted, so that only the split attention differs from the backbone). Budget: the grouped
conv has exactly the plain conv's weights (``r`` times the outputs, ``1/r`` of the inputs per
group), so the extra parameters are the attention FCs and BNs: about +0.03M at depth 20
(resnest20 ~0.31M vs resnet20 0.278M), with the backbone's widths 16/32/64 unchanged.

``attn_position`` is deliberately absent: split attention is not a gate applied to the residual
branch's output (where "before or after the add" would be a choice) but the fusion rule of the
``r`` splits *inside* the first convolution of the branch; there is no "after the add" version
of it.

Full-size ``resnest50d`` (timm's ResNeSt-50d: deep stem of three 3x3 convs 32-32-64, radix 2,
cardinality 1, average-pool downsampling): for 32x32 inputs the stem's first conv has stride 1
instead of 2 and the 3x3/2 max-pool is removed (an ``nn.Identity``), so the four stages run on
32, 16, 8 and 4 pixels (final map 4x4 instead of 1x1). Nothing else is changed.
"""

from __future__ import annotations

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import check_positive_int
from .registry import register_graft, register_model
from .resnet import CifarResNet, scaled_widths, projection_shortcut


def attention_channels(channels: int, radix: int, cardinality: int = 1) -> int:
    """Hidden width of the split-attention FCs: ``max(radix * channels / 4, 32)``, rounded up to a
    multiple of ``cardinality`` (the official ResNeSt rule; 4 is its reduction factor)."""
    hidden = max(radix * channels // 4, 32)
    return -(-hidden // cardinality) * cardinality


class SplitAttnConv(nn.Module):
    """Split-attention convolution: ``r`` grouped-conv splits fused by an r-softmax attention.

    Output ``V = sum_i a_i * U_i`` with ``U_i = ReLU(BN(conv(x)))`` split ``i`` (see the module
    docstring for the equations). BN and ReLU are part of this module.

    Args:
        in_channels: input channels (divisible by ``radix * cardinality``).
        out_channels: channels ``C`` of the output (divisible by ``cardinality``).
        kernel_size: spatial size of the grouped convolution.
        stride: its stride.
        radix: number of splits ``r`` (1: a sigmoid gate instead of a softmax).
        cardinality: number of cardinal groups ``K``.
        attn_channels: hidden width of the attention; ``None`` uses :func:`attention_channels`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        radix: int = 2,
        cardinality: int = 1,
        attn_channels: int | None = None,
    ) -> None:
        super().__init__()
        if radix < 1 or cardinality < 1:
            raise ValueError(f"radix and cardinality must be >= 1, got {radix} and {cardinality}")
        if in_channels % (radix * cardinality) or out_channels % cardinality:
            raise ValueError(
                f"in_channels ({in_channels}) must be divisible by radix*cardinality "
                f"({radix * cardinality}) and out_channels ({out_channels}) by cardinality"
            )
        hidden = attention_channels(out_channels, radix, cardinality) if attn_channels is None else attn_channels
        self.radix = radix
        self.cardinality = cardinality
        self.out_channels = out_channels
        self.conv = nn.Conv2d(
            in_channels, out_channels * radix, kernel_size, stride=stride,
            padding=kernel_size // 2, groups=cardinality * radix, bias=False,
        )
        self.bn = nn.BatchNorm2d(out_channels * radix)
        self.fc1 = nn.Conv2d(out_channels, hidden, 1, groups=cardinality)
        self.bn_fc = nn.BatchNorm2d(hidden)
        self.fc2 = nn.Conv2d(hidden, out_channels * radix, 1, groups=cardinality)

    def split_weights(self, logits: torch.Tensor) -> torch.Tensor:
        """Attention logits ``B x (r*C) x 1 x 1`` (cardinal-major, as ``fc2`` emits them) to
        weights ``B x r x C x 1 x 1`` (softmax over the ``r`` splits, or sigmoid when r = 1)."""
        b, r, k = logits.shape[0], self.radix, self.cardinality
        logits = logits.view(b, k, r, self.out_channels // k)
        weights = logits.softmax(dim=2) if r > 1 else torch.sigmoid(logits)
        return weights.transpose(1, 2).reshape(b, r, self.out_channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = F.relu(self.bn(self.conv(x)))
        b, _, h, w = u.shape
        splits = u.view(b, self.radix, self.out_channels, h, w)  # U_1 .. U_r
        s = splits.sum(dim=1).mean(dim=(2, 3), keepdim=True)  # GAP of the sum: B x C x 1 x 1
        z = F.relu(self.bn_fc(self.fc1(s)))
        a = self.split_weights(self.fc2(z))
        return (splits * a).sum(dim=1)


class SplitAttnBasicBlock(nn.Module):
    """CIFAR basic block whose first conv is a split-attention conv.

    ``y = ReLU(BN(Conv3x3(SplAt(x))) + S(x))``; with ``attn=False`` the first conv is a plain
    ``Conv3x3 (groups=cardinality) -> BN -> ReLU`` of the same width (the ResNet basic block for
    ``cardinality=1``, with the same parameter names).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        radix: int = 2,
        cardinality: int = 1,
        attn: bool = True,
    ) -> None:
        super().__init__()
        if attn:
            self.conv1: nn.Module = SplitAttnConv(in_channels, out_channels, 3, stride, radix, cardinality)
            self.bn1: nn.Module = nn.Identity()  # BN and ReLU live inside the split-attention conv
            self.act1: nn.Module = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(
                in_channels, out_channels, 3, stride=stride, padding=1, groups=cardinality, bias=False
            )
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = projection_shortcut(in_channels, out_channels, stride)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act(out + self.shortcut(x))


@register_graft("resnest{depth}", method="ResNeSt")
def resnest(
    depth: int,
    num_classes: int = 100,
    width: float = 1.0,
    attn: bool = True,
    radix: int = 2,
    cardinality: int = 1,
) -> CifarResNet:
    """CIFAR ResNet whose blocks' first 3x3 conv is a split-attention conv.

    Args:
        attn: ``False`` replaces every split-attention conv by a plain 3x3 conv (+BN+ReLU) of the
            same width and ``groups=cardinality``: with ``cardinality=1`` this is exactly the
            plain ResNet (``radix`` is then unused).
        radix: splits per cardinal group, ``r >= 1`` (paper default 2). ``radix=1`` turns the
            r-softmax into a per-channel sigmoid gate, i.e. an SE-like attention on the conv.
            Larger radix widens only the attention (the grouped conv keeps its weight count).
        cardinality: cardinal groups ``K >= 1`` (default 1, as in ResNeSt-50).
        ``radix * cardinality`` (with ``attn``) or ``cardinality`` (without) must divide the
        narrowest width, 16: allowed products 1, 2, 4, 8, 16.
    """
    radix = check_positive_int("radix", radix)
    cardinality = check_positive_int("cardinality", cardinality)
    groups = radix * cardinality if attn else cardinality
    widths = scaled_widths(width)
    narrowest = min(widths)
    if narrowest % groups:
        what = "radix * cardinality" if attn else "cardinality"
        allowed = [g for g in range(1, narrowest + 1) if narrowest % g == 0]
        raise ValueError(
            f"radix/cardinality: {what} = {groups} must divide the narrowest stage width "
            f"{narrowest}; allowed products: {allowed}"
        )

    def factory(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        return SplitAttnBasicBlock(in_channels, out_channels, stride, radix, cardinality, attn)

    return CifarResNet(depth, factory, num_classes=num_classes, widths=widths)


@register_model("resnest50d", family="full", method="ResNeSt")
def resnest50d(num_classes: int = 100) -> nn.Module:
    """timm's ResNeSt-50d (radix 2, cardinality 1, deep stem, avg-pool downsampling) for 32x32
    inputs: the stem's first 3x3 conv gets stride 1 (was 2) and the max-pool is removed, so the
    final feature map is 4x4. Randomly initialised (no pretrained weights)."""
    model = timm.create_model("resnest50d", pretrained=False, num_classes=num_classes)
    model.conv1[0].stride = (1, 1)
    model.maxpool = nn.Identity()
    return model
