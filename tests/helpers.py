"""Helpers shared by the tests (``from helpers import ...``; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import torch
import torch.nn as nn

from cifarlib.data import TensorDataset
from cifarlib.profile import count_parameters

RESNET20_PARAMS = 278_324  # the CIFAR ResNet-20 of He et al., 100 classes


def n_params(model: nn.Module) -> int:
    """Every parameter of ``model``, trainable or not."""
    return count_parameters(model, trainable_only=False)


def timm_params(name: str, num_classes: int = 100) -> int:
    """Parameters of timm's ``name`` (random init) with a ``num_classes`` head."""
    import timm

    return n_params(timm.create_model(name, pretrained=False, num_classes=num_classes))


@torch.no_grad()
def features_shape(model: nn.Module, image_size: int = 32) -> tuple[int, ...]:
    """Shape of ``model.forward_features`` on one random image, in eval mode."""
    model.eval()
    return tuple(model.forward_features(torch.randn(1, 3, image_size, image_size)).shape)


@torch.no_grad()
def stage_shapes(model: nn.Module, image_size: int = 32) -> list[tuple[int, ...]]:
    """``(C, H, W)`` after each of ``model.stages`` for one random image."""
    x = torch.randn(1, 3, image_size, image_size)
    shapes = []
    for stage in model.stages:
        x = stage(x)
        shapes.append(tuple(x.shape[1:]))
    return shapes


def tiny_data(n_per_class: int = 8, classes: int = 4, seed: int = 0, noise: float = 20,
              test_every: int = 1) -> TensorDataset:
    """A separable set in memory: each class a constant colour plus noise; the test split is
    every ``test_every``-th training image."""
    g = torch.Generator().manual_seed(seed)
    colours = torch.randint(0, 256, (classes, 3, 1, 1), generator=g).float()
    y = torch.arange(classes).repeat_interleave(n_per_class)
    x = (colours[y] + noise * torch.randn(len(y), 3, 32, 32, generator=g)).clamp(0, 255).to(torch.uint8)
    return TensorDataset("tiny", x, y, x[::test_every].clone(), y[::test_every].clone(),
                         [f"c{i}" for i in range(classes)], (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


class Interrupt(Exception):
    """Raised by :func:`stop_after` to cut a run short, as a kill would, after an epoch's checkpoint."""


def stop_after(epoch: int):
    """An ``on_epoch`` callback for ``engine.train`` that interrupts the run after ``epoch``."""
    def on_epoch(row: dict) -> None:
        if row["epoch"] == epoch:
            raise Interrupt

    return on_epoch
