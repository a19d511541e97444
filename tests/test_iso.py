"""Width multiplier, iso-parameter grafts and unambiguous names (issue 8 item 1, issue 7 item 9)."""

from __future__ import annotations

import pytest
import torch.nn as nn

from cifarlib.models import create_model, list_models, model_entry, register_graft, register_model
from cifarlib.models.iso import ISO_TOLERANCE, ISO_WIDTHS, n_params
from cifarlib.models.resnet import scaled_widths


def test_every_graft_has_an_iso_version() -> None:
    assert list(ISO_WIDTHS) == list_models("graft")
    assert set(list_models("iso")) == {f"{g}_iso" for g in list_models("graft")}


@pytest.mark.parametrize("name", sorted(ISO_WIDTHS))
def test_iso_grafts_match_resnet20_parameters(name: str) -> None:
    target = n_params(create_model("resnet20"))
    iso = n_params(create_model(f"{name}_iso"))
    assert abs(iso / target - 1) <= ISO_TOLERANCE, (name, iso, target)
    assert model_entry(f"{name}_iso").method == model_entry(name).method


@pytest.mark.parametrize("name", ["resnet20", "eca_resnet20", "csp_resnet20", "hor_resnet20"])
def test_width_multiplier_scales_stage_widths(name: str) -> None:
    model = create_model(name, width=1.5)
    last = model.fc.in_features
    assert last == scaled_widths(1.5)[-1] == 96
    assert n_params(model) > n_params(create_model(name))


def test_scaled_widths_rounds_to_multiples_of_four_and_rejects_nonsense() -> None:
    assert scaled_widths(1.0) == (16, 32, 64)
    assert scaled_widths(0.92) == (16, 28, 60)
    with pytest.raises(ValueError, match="width multiplier"):
        scaled_widths(0)


def test_full_size_eca_resnet50_is_not_the_depth50_graft() -> None:
    assert model_entry("eca_resnet50").family == "full"
    assert model_entry("eca_resnet56").family == "graft"


def test_registry_refuses_a_name_a_graft_template_matches() -> None:
    with pytest.raises(ValueError, match="graft template"):
        register_model("eca_resnet44", family="full", method="x")(lambda **kw: nn.Identity())
    with pytest.raises(ValueError, match="matches the registered model"):
        register_graft("resnet{depth}", method="x")(lambda depth, **kw: nn.Identity())


def test_a_width_that_builds_the_graft_is_the_graft(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search and same_model agree: 0.98 rounds to 16/32/64, so it builds the graft itself."""
    import dataclasses

    from cifarlib.models import methods
    from cifarlib.models.iso import builds_the_graft, same_model

    assert builds_the_graft(0.98, {}) and builds_the_graft(1.0, {})
    assert not builds_the_graft(0.96, {}) and not builds_the_graft(1.0, {"heads": 2})
    table = tuple(dataclasses.replace(m, iso_width=0.98) if m.graft == "eca_resnet20" else m for m in methods.METHODS)
    monkeypatch.setattr(methods, "METHODS", table)
    assert same_model("eca_resnet20_iso") == "eca_resnet20"
    assert same_model("ghost_resnet20_iso") == "ghost_resnet20_iso"
    assert same_model("resnet20") == "resnet20"
