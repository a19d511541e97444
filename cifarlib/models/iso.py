"""Iso-parameter grafts: every depth-20 graft widened or narrowed to resnet20's size.

As designed, the grafts range from 0.105M (csp_resnet20) to 0.369M (hor_resnet20) parameters at
100 classes, 3.5x apart; at this scale accuracy tracks capacity, so a top-1 ranking of the
as-designed grafts partly ranks size. ``<graft>_iso`` is the same graft with the stage widths
``16w/32w/64w`` (:func:`.resnet.scaled_widths`, multiples of 4) at the multiplier ``w`` of
:data:`ISO_WIDTHS`, chosen once by a grid search (w = 0.40 ... 2.58 in steps of 0.02, the value
whose parameter count at 100 classes is closest to resnet20's 278,324) and stored here; a test
checks that each lies within +-5 % of resnet20. The search is :func:`search_iso_width`.

CoAtNet's iso entry fixes ``heads=2`` (the as-designed head count at width 64), because its
default head size 32 does not divide the scaled stage-3 width.
"""

from __future__ import annotations

from typing import Any, Callable

import torch.nn as nn

from .registry import create_model, register_model

ISO_TOLERANCE = 0.05
ISO_REFERENCE = "resnet20"

ISO_WIDTHS: dict[str, tuple[float, dict[str, Any]]] = {
    "convnext_resnet20": (1.32, {}),
    "msca_resnet20": (0.92, {}),
    "lsk_resnet20": (0.92, {}),
    "coat_resnet20": (1.16, {"heads": 2}),
    "eca_resnet20": (1.0, {}),  # already within 0.01 % of resnet20
    "csp_resnet20": (1.64, {}),
    "ghost_resnet20": (1.38, {}),
    "hor_resnet20": (0.86, {}),
    "resnest20": (0.92, {}),
    "mixer_resnet20": (1.16, {}),
}
"""Graft name -> (width multiplier, fixed switches) of its iso-parameter version."""


def same_model(name: str) -> str:
    """The registry name of the model ``name`` builds: an ``<graft>_iso`` entry at width 1.0 with no
    fixed switches is its graft itself (``eca_resnet20_iso`` is ``eca_resnet20``); any other name
    is returned unchanged."""
    graft = name.removesuffix("_iso")
    if name.endswith("_iso") and ISO_WIDTHS.get(graft) == (1.0, {}):
        return graft
    return name


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def search_iso_width(graft: str, num_classes: int = 100, **fixed: Any) -> float:
    """The width multiplier on the 0.40-2.58 grid whose parameter count is closest to resnet20's."""
    target = n_params(create_model(ISO_REFERENCE, num_classes))
    best, best_gap = 1.0, float("inf")
    for k in range(40, 260, 2):
        try:
            model = create_model(graft, num_classes, width=k / 100, **fixed)
        except ValueError:  # a width the graft's own constraints reject (e.g. head size)
            continue
        gap = abs(n_params(model) / target - 1)
        if gap < best_gap:
            best, best_gap = k / 100, gap
    return best


def _iso_builder(graft: str, width: float, fixed: dict[str, Any]) -> Callable[..., nn.Module]:
    def build(num_classes: int = 100, **kwargs: Any) -> nn.Module:
        return create_model(graft, num_classes, **{"width": width, **fixed, **kwargs})

    build.__doc__ = f"{graft} at width multiplier {width} {fixed or ''}: iso-parameter with resnet20."
    return build


def _register() -> None:
    from .registry import model_entry

    for graft, (width, fixed) in ISO_WIDTHS.items():
        register_model(f"{graft}_iso", family="iso", method=model_entry(graft).method)(
            _iso_builder(graft, width, fixed)
        )


_register()
