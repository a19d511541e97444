"""Batch-level augmentations of the stronger recipes: Cutout, mixup and CutMix.

All three act on a normalised batch already on the training device and draw their randomness
from the engine's generators, so a run stays reproducible from its seed. The per-batch scalars
of mixup and CutMix (which of the two, ``lam``, the box centre) come from a CPU generator, so a
step on a GPU never waits for the device to hand a number back (no ``.item()`` / ``bool()`` on
a device tensor); on the CPU that generator is the device generator itself, so CPU runs draw
exactly what they drew before the split.

* **Cutout** (DeVries & Taylor 2017, arXiv:1708.04552): one ``size x size`` square per image,
  centred uniformly in the image (so it may be clipped at the border), set to 0, which is the
  data set's mean colour after normalisation.
* **mixup** (Zhang et al. 2018, arXiv:1710.09412): ``x = lam x_i + (1 - lam) x_j`` and the loss
  ``lam CE(f(x), y_i) + (1 - lam) CE(f(x), y_j)``, ``lam ~ Beta(alpha, alpha)`` once per batch,
  ``j`` a random permutation of the batch.
* **CutMix** (Yun et al. 2019, arXiv:1905.04899): a box of area ``(1 - lam) H W`` from image
  ``j`` is pasted into image ``i``; ``lam`` is then set to the area actually kept (the box is
  clipped at the border), and the loss mixes as for mixup.

When both mixup and CutMix are on, each batch uses one of them with probability 1/2 (as timm's
``Mixup`` does with ``switch_prob=0.5``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
import torch.nn as nn


def cutout(images: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``images`` (N, C, H, W) with one ``size`` x ``size`` square per image set to 0."""
    if size <= 0:
        return images
    n, _, height, width = images.shape
    cy = torch.randint(0, height, (n,), generator=generator, device=images.device)
    cx = torch.randint(0, width, (n,), generator=generator, device=images.device)
    rows = torch.arange(height, device=images.device)[None, :]
    cols = torch.arange(width, device=images.device)[None, :]
    half = size // 2
    in_rows = (rows >= (cy - half)[:, None]) & (rows < (cy - half + size)[:, None])  # N x H
    in_cols = (cols >= (cx - half)[:, None]) & (cols < (cx - half + size)[:, None])  # N x W
    hole = in_rows[:, :, None] & in_cols[:, None, :]  # N x H x W
    return images.masked_fill(hole[:, None], 0.0)


@dataclass
class MixedBatch:
    """A mixed batch: the loss is ``lam * CE(out, targets) + (1 - lam) * CE(out, partners)``."""

    images: torch.Tensor
    targets: torch.Tensor
    partners: torch.Tensor
    lam: float

    def loss(self, criterion: nn.Module, logits: torch.Tensor) -> torch.Tensor:
        if self.lam == 1.0:
            return criterion(logits, self.targets)
        return self.lam * criterion(logits, self.targets) + (1 - self.lam) * criterion(logits, self.partners)


def _beta(alpha: float, generator: torch.Generator | None) -> float:
    """One draw of Beta(alpha, alpha), seeded from the CPU ``generator`` (torch's Beta takes none)."""
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    return random.Random(seed).betavariate(alpha, alpha)


def mix_batch(
    images: torch.Tensor, targets: torch.Tensor, mixup: float = 0.0, cutmix: float = 0.0,
    generator: torch.Generator | None = None, scalar_generator: torch.Generator | None = None,
) -> MixedBatch:
    """Mix a batch by mixup (``mixup`` = its Beta alpha) or CutMix (``cutmix`` = alpha); 0 = off.
    With both off the batch is returned unchanged (``lam = 1``).

    ``generator`` (on the batch's device) draws the partner permutation; ``scalar_generator``
    (a CPU generator) draws the scalars. It may be omitted only when ``generator`` is a CPU one
    (or absent), which then draws both, in the order of the code below."""
    if mixup <= 0 and cutmix <= 0:
        return MixedBatch(images, targets, targets, 1.0)
    device = images.device
    if scalar_generator is None:
        if generator is not None and generator.device.type != "cpu":
            raise ValueError(f"mix_batch: a {generator.device} generator needs a CPU scalar_generator "
                             "(drawing scalars on the device would sync every step)")
        scalar_generator = generator
    use_cutmix = cutmix > 0 and (mixup <= 0 or float(torch.rand(1, generator=scalar_generator)) < 0.5)
    lam = _beta(cutmix if use_cutmix else mixup, scalar_generator)
    perm = torch.randperm(images.shape[0], generator=generator, device=device)
    partners = targets[perm]
    if not use_cutmix:
        return MixedBatch(lam * images + (1 - lam) * images[perm], targets, partners, lam)
    height, width = images.shape[-2:]
    cut = math.sqrt(1.0 - lam)
    box_h, box_w = int(height * cut), int(width * cut)
    cy = int(torch.randint(0, height, (1,), generator=scalar_generator))
    cx = int(torch.randint(0, width, (1,), generator=scalar_generator))
    top, bottom = max(cy - box_h // 2, 0), min(cy + box_h - box_h // 2, height)
    left, right = max(cx - box_w // 2, 0), min(cx + box_w - box_w // 2, width)
    mixed = images.clone()
    mixed[:, :, top:bottom, left:right] = images[perm, :, top:bottom, left:right]
    kept = 1.0 - (bottom - top) * (right - left) / (height * width)
    return MixedBatch(mixed, targets, partners, kept)


__all__ = ["MixedBatch", "cutout", "mix_batch"]
