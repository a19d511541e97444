"""Full-size ECA-ResNet-50 (Wang et al., ECA-Net, CVPR 2020, arXiv:1910.03151) for 32x32 inputs.

The paper's ECA-Net50 is the standard ResNet-50 (7x7/2 stem conv, 3x3/2 max-pool, bottleneck
stages of 3/4/6/3 blocks, strided 3x3 conv and 1x1 projection shortcuts) with one ECA module per
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

The ECA graft on the CIFAR ResNet (``eca_resnet{depth}``) lives in :mod:`cifarlib.models.eca`.
"""

from __future__ import annotations

from functools import partial

import timm
import torch.nn as nn
from timm.layers import EcaModule

from .registry import register_model


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
