"""Blocks and argument checks shared by several architectures (one home each, as timm's
``layers/``).

* :class:`LayerNorm2d` is timm's: LayerNorm over the channels of an NCHW tensor, each pixel
  normalised on its own (ConvNeXt, CoAtNet, HorNet, MSCAN/LSKNet, the Mixer graft's stage end).
* :class:`PointwiseMlp`: the transformer/ConvNeXt MLP ``W_2 GELU(W_1 x)`` as two 1x1 convs.
* The checks raise a ``ValueError`` that names the argument and what it accepts.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.layers import LayerNorm2d


class PointwiseMlp(nn.Module):
    """``W_2 GELU(W_1 x)`` as two 1x1 convolutions (NCHW), ``hidden`` channels in between.
    Attribute names ``fc1``/``fc2`` match timm's ``ConvMlp``, so its weights load directly."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def check_positive_int(name: str, value: object, odd: bool = False) -> int:
    """``value`` if it is a positive (and, with ``odd``, odd) integer, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (odd and value % 2 == 0):
        kind = "a positive odd integer (1, 3, 5, ...)" if odd else "a positive integer (1, 2, 3, ...)"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return value


def check_drop_path_rate(rate: float) -> float:
    """``rate`` if it is a valid stochastic-depth rate (0 <= rate < 1), else a ValueError naming it."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"drop_path_rate must be in [0, 1), got {rate!r}")
    return rate


__all__ = ["LayerNorm2d", "PointwiseMlp", "check_drop_path_rate", "check_positive_int"]
