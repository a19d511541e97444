"""Which records stand for each model in the headline comparison.

The main comparisons (``main_iso`` / ``main`` against resnet20, and their 10-epoch twins) take,
for every model of the experiment, its ``default`` variant, or the one variant it was run as when
it has no default (``main_iso_e10`` runs ConvNeXt only as ``ls1``). :data:`HEADLINE_SUBSTITUTES`
replaces a model's records by another experiment's, run with the same recipe, data and seeds:

ConvNeXt's layer scale multiplies each residual branch by a per-channel gamma, initialised by the
paper to gamma0 = 1e-6 (a choice made for AdamW and 300 epochs). Under SGD the branch's
effective learning rate shrinks by the same factor, and the study's own ablation
(``ablation_layer_scale``: gamma0 = 1, 3 seeds, the 4-epoch recipe) beats the paper's init by about
20 points. The headline ConvNeXt arm is therefore that gamma0 = 1 record; the paper's init is the
layer-scale ablation's arm (:data:`cifarlib.report.ablations.STUDY_ABLATIONS`).
"""

from __future__ import annotations

import pandas as pd

from .ablations import Arm, arm_runs

HEADLINE_SUBSTITUTES: dict[tuple[str, str], Arm] = {
    ("main_iso", "convnext_resnet20_iso"): Arm("ablation_layer_scale", "convnext_resnet20_iso", "ls1",
                                               "convnext_resnet20_iso"),
}


def headline_arms(runs: pd.DataFrame, experiment: str) -> tuple[Arm, ...]:
    """One arm per model recorded in ``experiment`` (record order), labelled by the model's name:
    its default variant, else its only variant, unless :data:`HEADLINE_SUBSTITUTES` names other records.

    Raises ValueError when a model has several non-default variants and no default: the headline
    would have to pick one, and the caller should say which."""
    if runs.empty:
        return ()
    rows = runs[runs["experiment"] == experiment]
    arms = []
    for model in dict.fromkeys(rows["model"]):
        substitute = HEADLINE_SUBSTITUTES.get((experiment, model))
        if substitute is not None and not arm_runs(runs, substitute).empty:
            arms.append(substitute)
            continue
        variants = list(dict.fromkeys(rows.loc[rows["model"] == model, "variant"]))
        if "default" in variants or len(variants) == 1:
            arms.append(Arm(experiment, model, "default" if "default" in variants else variants[0], model))
        else:
            raise ValueError(f"experiment {experiment!r} records {model} only as variants {variants}: the headline "
                             f"comparison needs one; add it to cifarlib/report/headline.py HEADLINE_SUBSTITUTES "
                             "or record a default variant")
    return tuple(arms)


def headline_runs(runs: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """The records of :func:`headline_arms` (a substitute's records keep their own experiment)."""
    arms = headline_arms(runs, experiment)
    if not arms:
        return runs.iloc[0:0]
    return pd.concat([arm_runs(runs, arm) for arm in arms])


def substitutions(runs: pd.DataFrame, experiment: str) -> list[Arm]:
    """The arms of ``experiment``'s headline that come from another experiment (for the book's note)."""
    return [arm for arm in headline_arms(runs, experiment) if arm.experiment != experiment]
