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
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import register_graft
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
