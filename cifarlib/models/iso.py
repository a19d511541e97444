"""Iso-parameter grafts: every depth-20 graft widened or narrowed to resnet20's size.

As designed, the grafts range from 0.105M (csp_resnet20) to 0.369M (hor_resnet20) parameters at
100 classes, 3.5x apart; at this scale accuracy tracks capacity, so a top-1 ranking of the
as-designed grafts partly ranks size. ``<graft>_iso`` is the same graft with the stage widths
``16w/32w/64w`` (:func:`.resnet.scaled_widths`, multiples of 4) at the multiplier ``w`` of its
method's entry in the method table (:attr:`.methods.Method.iso_width`), chosen once by a grid
search (w = 0.40 ... 2.58 in steps of 0.02, the value whose parameter count at 100 classes is
closest to resnet20's 278,324) and stored there; a test checks that each lies within +-5 % of
resnet20. The search is :func:`search_iso_width`.

A multiplier whose stage widths round to the paper's 16/32/64 builds the graft's own network, so
such an entry *is* its graft: the search reports 1.0 for it and :func:`same_model` resolves
``<graft>_iso`` to ``<graft>`` (e.g. ``eca_resnet20_iso`` is ``eca_resnet20``).

CoAtNet's iso entry fixes ``heads=2`` (the as-designed head count at width 64), because its
default head size 32 does not divide the scaled stage-3 width.
"""

from __future__ import annotations

from typing import Any, Callable

import torch.nn as nn

from . import methods
from .registry import create_model, is_registered, model_entry, register_model
from .resnet import scaled_widths

ISO_TOLERANCE = 0.05
ISO_REFERENCE = "resnet20"
SEARCH_GRID = tuple(k / 100 for k in range(40, 260, 2))
"""The width multipliers :func:`search_iso_width` tries (0.40 ... 2.58)."""


def iso_widths() -> dict[str, tuple[float, dict[str, Any]]]:
    """Graft name -> (width multiplier, fixed switches) of its iso-parameter version, from the
    method table."""
    return {m.graft: (m.iso_width, dict(m.iso_fixed)) for m in methods.METHODS}


ISO_WIDTHS = iso_widths()
"""The method table's iso entries when the package was imported (:func:`iso_widths`)."""


def builds_the_graft(width: float, fixed: dict[str, Any]) -> bool:
    """True when the graft at ``width`` with ``fixed`` switches is the graft as designed: no
    switch fixed and the stage widths round to the paper's (0.98 and 1.0 both give 16/32/64)."""
    return not fixed and scaled_widths(width) == scaled_widths(1.0)


def same_model(name: str) -> str:
    """The registry name of the model ``name`` builds: an ``<graft>_iso`` entry that builds its
    graft's network (:func:`builds_the_graft`) is that graft (``eca_resnet20_iso`` is
    ``eca_resnet20``); any other name is returned unchanged."""
    graft = name.removesuffix("_iso")
    entry = iso_widths().get(graft) if name.endswith("_iso") else None
    if entry is not None and builds_the_graft(*entry):
        return graft
    return name


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def search_iso_width(graft: str, num_classes: int = 100, **fixed: Any) -> float:
    """The width multiplier on :data:`SEARCH_GRID` whose parameter count is closest to resnet20's.

    Widths that build the graft's own network (:func:`builds_the_graft`) are reported as 1.0, so
    the stored entry and :func:`same_model` agree that it is the graft itself.
    """
    target = n_params(create_model(ISO_REFERENCE, num_classes))
    best, best_gap = 1.0, float("inf")
    for width in SEARCH_GRID:
        try:
            model = create_model(graft, num_classes, width=width, **fixed)
        except ValueError:  # a width the graft's own constraints reject (e.g. head size)
            continue
        gap = abs(n_params(model) / target - 1)
        if gap < best_gap:
            best, best_gap = width, gap
    return 1.0 if builds_the_graft(best, fixed) else best


def _iso_builder(graft: str, width: float, fixed: dict[str, Any]) -> Callable[..., nn.Module]:
    def build(num_classes: int = 100, **kwargs: Any) -> nn.Module:
        return create_model(graft, num_classes, **{"width": width, **fixed, **kwargs})

    build.__doc__ = f"{graft} at width multiplier {width} {fixed or ''}: iso-parameter with resnet20."
    return build


def register_iso(method: methods.Method) -> None:
    """Register ``<graft>_iso`` for one method of the table (once; later calls do nothing)."""
    if is_registered(method.iso):
        return
    register_model(method.iso, family="iso", method=model_entry(method.graft).method)(
        _iso_builder(method.graft, method.iso_width, dict(method.iso_fixed))
    )
