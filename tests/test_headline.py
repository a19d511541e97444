"""Which records stand for a model in the headline comparison (cifarlib.report.headline)."""

from __future__ import annotations

import pandas as pd
import pytest

from cifarlib.report.ablations import STUDY_ABLATIONS, Arm
from cifarlib.report.headline import HEADLINE_SUBSTITUTES, headline_arms, headline_runs, substitutions


def _runs(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"experiment": e, "model": m, "variant": v, "seed": s, "test_top1": 70.0 + s}
                         for e, m, v in rows for s in range(3)])


def test_convnext_headline_is_the_layer_scale_one_record_when_it_exists() -> None:
    runs = _runs(("main_iso", "eca_resnet20_iso", "default"), ("main_iso", "convnext_resnet20_iso", "default"),
                 ("ablation_layer_scale", "convnext_resnet20_iso", "ls1"))
    arms = headline_arms(runs, "main_iso")
    assert arms == (Arm("main_iso", "eca_resnet20_iso", "default", "eca_resnet20_iso"),
                    Arm("ablation_layer_scale", "convnext_resnet20_iso", "ls1", "convnext_resnet20_iso"))
    assert substitutions(runs, "main_iso") == [arms[1]]
    assert set(headline_runs(runs, "main_iso")["variant"]) == {"default", "ls1"}
    assert len(headline_runs(runs, "main_iso")) == 6  # the paper-init records are not in the headline
    # without the gamma0 = 1 records the experiment's own records stand
    own = headline_arms(runs[runs["experiment"] != "ablation_layer_scale"], "main_iso")
    assert own[1] == Arm("main_iso", "convnext_resnet20_iso", "default", "convnext_resnet20_iso")


def test_the_paper_init_is_the_layer_scale_ablations_arm() -> None:
    layer_scale = next(a for a in STUDY_ABLATIONS if a.key == "layer_scale")
    substitute = HEADLINE_SUBSTITUTES[("main_iso", "convnext_resnet20_iso")]
    assert (layer_scale.reference.experiment, layer_scale.reference.variant) == (substitute.experiment, substitute.variant)
    assert [(a.experiment, a.variant) for a in layer_scale.arms] == [("main_iso", "default")]


def test_a_model_recorded_only_as_one_variant_uses_it_and_two_are_refused() -> None:
    runs = _runs(("main_iso_e10", "convnext_resnet20_iso", "ls1"))
    assert headline_arms(runs, "main_iso_e10")[0].variant == "ls1"
    with pytest.raises(ValueError, match="HEADLINE_SUBSTITUTES"):
        headline_arms(_runs(("x", "m", "a"), ("x", "m", "b")), "x")
    assert headline_arms(runs.iloc[0:0], "main_iso") == ()
