"""How far apart the as-designed grafts' parameter counts are: the numbers the overview and the
methods index quote ("从 csp_resnet20 的 0.105M 到 hor_resnet20 的 0.369M，相差约 3.5 倍"), computed
from the registry so the prose follows the models, plus the plan counts the overview quotes with
them (the iso tolerance, how many as-designed grafts run with one seed)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..models import create_model, methods
from ..models.iso import ISO_TOLERANCE
from ..profile import count_parameters

BACKBONE = f"resnet{methods.GRAFT_DEPTH}"


@dataclass(frozen=True)
class CapacitySpread:
    """The smallest and largest listed (depth-20, as-designed) graft and the backbone, in
    millions of trainable parameters at ``num_classes`` outputs."""

    smallest: str
    smallest_params_m: float
    largest: str
    largest_params_m: float
    backbone: str
    backbone_params_m: float
    num_classes: int

    @property
    def ratio(self) -> float:
        """Largest over smallest parameter count."""
        return self.largest_params_m / self.smallest_params_m


def _params_m(name: str, num_classes: int) -> float:
    return count_parameters(create_model(name, num_classes=num_classes)) / 1e6


def graft_capacity_spread(num_classes: int = 100) -> CapacitySpread:
    """The spread of the method table's listed grafts (one per method, depth
    :data:`~cifarlib.models.methods.GRAFT_DEPTH`) at ``num_classes`` outputs, the class count of
    the methods index's cost table (CIFAR-100)."""
    if num_classes < 1:
        raise ValueError(f"graft_capacity_spread: num_classes must be at least 1, got {num_classes}")
    counts = {m.graft: _params_m(m.graft, num_classes) for m in methods.METHODS}
    smallest = min(counts, key=counts.__getitem__)
    largest = max(counts, key=counts.__getitem__)
    return CapacitySpread(smallest, counts[smallest], largest, counts[largest],
                          BACKBONE, _params_m(BACKBONE, num_classes), num_classes)


def spread_sentence(spread: CapacitySpread) -> str:
    """The methods index's sentence: the smallest and largest graft, the ratio, the backbone."""
    return (f"深度 {methods.GRAFT_DEPTH} 时从 `{spread.smallest}` 的 {spread.smallest_params_m:.3f}M "
            f"到 `{spread.largest}` 的 {spread.largest_params_m:.3f}M，相差约 {spread.ratio:.1f} 倍，"
            f"而 `{spread.backbone}` 是 {spread.backbone_params_m:.3f}M（{spread.num_classes} 类输出）")


def iso_tolerance_percent() -> str:
    """The iso-parameter tolerance as the prose writes it: ``5%``."""
    return f"{ISO_TOLERANCE * 100:g}%"


def single_seed_grafts(planned: pd.DataFrame, experiment: str = "main") -> int:
    """How many models of ``experiment`` in a plan (:func:`study_plan.planned_runs`) run with
    exactly one seed; a ``ValueError`` when the plan has no such experiment."""
    rows = planned[planned["experiment"] == experiment]
    if rows.empty:
        raise ValueError(f"the plan has no experiment {experiment!r}: it has "
                         f"{sorted(planned['experiment'].unique())}")
    return int((rows.groupby("model")["seed"].nunique() == 1).sum())
