"""ECA-Net: Efficient Channel Attention (Wang et al., CVPR 2020, arXiv:1910.03151).

ECA replaces SE's bottleneck MLP with a 1-D convolution across channels of the pooled
descriptor, so each channel's weight depends only on its ``k`` neighbours:

    w = sigmoid(Conv1D_k(GAP(X))),      Y = w * X                       (paper eq. 6-7)

with the kernel size chosen adaptively from the channel count ``C``

    k = psi(C) = | log2(C) / gamma + b / gamma |_odd,   gamma = 2, b = 1   (paper eq. 12)

which gives k = 3 for C = 16, 32 and 64, i.e. for every stage of the CIFAR ResNet.

Graft (``eca_resnet{depth}``): one ECA module per basic block, on the residual branch before the
add (the paper's placement) or after the add. It adds only ``k`` weights per block (27 weights
for ResNet-20), so the graft has the backbone's budget exactly; nothing needed changing for
32x32 inputs. Switches: ``attn`` (on/off), ``attn_position``, ``kernel_size`` (``None`` =
adaptive ``psi(C)``, or a fixed odd size).

Full-size (``eca_resnet50``): the paper's ECA-Net50 is the standard ResNet-50 (7x7/2 stem
conv, 3x3/2 max-pool, bottleneck stages of 3/4/6/3 blocks, strided 3x3 conv and 1x1 projection shortcuts) with one ECA module per
bottleneck, applied to the output of the last BN of the residual branch, before the add (where
SE-Net puts its SE module):

    y = ReLU(x_shortcut + ECA(BN(Conv1x1(...))))
    ECA(X) = X * sigmoid(Conv1D_k(GAP(X))),  k = psi(C) = |log2(C)/2 + 1/2|_odd

Built as ``timm.create_model("resnet50", block_args=dict(attn_layer="eca"))``: timm's plain
ResNet-50 with its ``EcaModule`` sized from the block's output channels, which is the paper's
model and rule (k = 5, 5, 5, 7 for the 256/512/1024/2048-channel stages). timm's registered
``ecaresnet50d`` is *not* used: it is a ResNet-D (deep 3-conv stem and average-pool shortcuts), a
later tweak that the ECA-Net paper does not use. Note that the official repository's released
ECA-Net50 checkpoint was trained with per-stage kernel sizes 3, 5, 5, 7; ``kernel_size=3`` fixes
k for all stages if a smaller cross-channel reach is wanted.

Adaptation to 32x32 (the only change): the 7x7 stem conv has stride 1 instead of 2 and the
max-pool is removed (an ``nn.Identity``), so the four stages run on 32, 16, 8 and 4 pixels
(final feature map 4x4 instead of 1x1).
"""

from __future__ import annotations

import math
from functools import partial

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

from timm.layers import EcaModule

from .registry import register_graft, register_model
from .resnet import AttnPosition, CifarResNet, scaled_widths, basic_block_factory


def adaptive_kernel_size(channels: int, gamma: float = 2.0, b: float = 1.0) -> int:
    """The paper's ``psi(C)``: nearest odd integer to ``log2(C)/gamma + b/gamma`` (rounding up
    to odd, as the official code does)."""
    t = int(abs(math.log2(channels) / gamma + b / gamma))
    return t if t % 2 == 1 else t + 1


class ECA(nn.Module):
    """Efficient channel attention: a ``k``-tap 1-D conv over the pooled channel descriptor.

    Args:
        channels: input channels (used only for the adaptive kernel size).
        kernel_size: odd ``k``; ``None`` picks ``psi(channels)``.
    """

    def __init__(self, channels: int, kernel_size: int | None = None) -> None:
        super().__init__()
        k = adaptive_kernel_size(channels) if kernel_size is None else kernel_size
        if k < 1 or k % 2 == 0:
            raise ValueError(f"ECA kernel_size must be a positive odd integer or None, got {k}")
        self.kernel_size = k
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.adaptive_avg_pool2d(x, 1).flatten(1).unsqueeze(1)  # B x 1 x C
        w = torch.sigmoid(self.conv(y)).transpose(1, 2).unsqueeze(-1)  # B x C x 1 x 1
        return x * w.to(x.dtype)


@register_graft("eca_resnet{depth}", method="ECA-Net", reserved_depths=(50,))  # 50: ECA-ResNet-50
def eca_resnet(
    depth: int,
    num_classes: int = 100,
    width: float = 1.0,
    attn: bool = True,
    attn_position: AttnPosition = "pre_add",
    kernel_size: int | None = None,
) -> CifarResNet:
    """CIFAR ResNet with an ECA module in every basic block.

    Args:
        attn: ``False`` removes ECA (the model is then exactly the plain ResNet).
        attn_position: ``"pre_add"`` (paper) or ``"post_add"``.
        kernel_size: ``None`` (adaptive, k=3 at widths 16-64) or a fixed odd kernel size.
    """
    factory = (lambda c: ECA(c, kernel_size)) if attn else None
    return CifarResNet(
        depth, basic_block_factory(factory, attn_position), num_classes=num_classes, widths=scaled_widths(width)
    )


def _fixed_eca(channels: int, kernel_size: int, **kwargs: object) -> nn.Module:
    """timm's ``EcaModule`` with a fixed kernel: timm passes ``channels`` first, and a given
    ``channels`` would switch it to the adaptive size, so it is dropped here."""
    return EcaModule(None, kernel_size=kernel_size, **kwargs)


@register_model("eca_resnet50", family="full", method="ECA-Net")
def eca_resnet50(num_classes: int = 100, kernel_size: int | None = None) -> nn.Module:
    """ECA-ResNet-50 (timm ResNet-50 + ``EcaModule``) with a stride-1 stem and no max-pool.

    Args:
        kernel_size: ``None`` (default): the paper's adaptive ``psi(C)`` per stage; a positive
            odd integer fixes k in every block.
    """
    if kernel_size is None:
        attn_layer: object = "eca"
    elif isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be None (adaptive) or a positive odd integer, got {kernel_size!r}")
    else:
        attn_layer = partial(_fixed_eca, kernel_size=kernel_size)
    model = timm.create_model(
        "resnet50", pretrained=False, num_classes=num_classes, block_args=dict(attn_layer=attn_layer)
    )
    model.conv1.stride = (1, 1)
    model.maxpool = nn.Identity()
    return model
