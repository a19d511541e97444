"""Sentences of the book about how a model behaves, each checked here (book/methods/*.md)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cifarlib.models import create_model
from cifarlib.profile import count_flops, count_parameters


def test_bare_post_add_msca_blows_up() -> None:
    """segnext.md: the bare gate Att(F)*F after the add gives NaN within a few SGD steps at depth
    20 and already overflows in the forward pass at initialisation at depth 56; the residual
    form trains in both positions."""
    torch.manual_seed(0)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    with torch.no_grad():
        deep = create_model("msca_resnet56", num_classes=10, residual=False, attn_position="post_add")
        assert not torch.isfinite(deep(x)).all()
    for residual, expect_finite in ((False, False), (True, True)):
        torch.manual_seed(0)
        model = create_model("msca_resnet20", num_classes=10, residual=residual, attn_position="post_add")
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        losses = []
        for _ in range(3):
            loss = F.cross_entropy(model(x), y)
            losses.append(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert all(torch.isfinite(torch.tensor(losses))) == expect_finite, (residual, losses)


def test_mixer_flops_per_parameter_is_that_of_a_conv_net() -> None:
    """mixer.md: mixer_s4's FLOPs per parameter are of the same order as the conv nets' (every
    channel-MLP weight is used once per token, 64 times per image)."""
    ratios = {}
    for name in ("mixer_s4", "eca_resnet50", "resnest50d"):
        model = create_model(name, num_classes=100)
        ratios[name] = count_flops(model) / count_parameters(model)
    assert 0.5 < ratios["mixer_s4"] / ratios["eca_resnet50"] < 2
    assert 0.5 < ratios["mixer_s4"] / ratios["resnest50d"] < 2


# --- book/discussion.md and the abstract (cifarlib.report.overview): claims read from the records ---

def _study():
    from cifarlib.report import overview, study_plan
    from cifarlib.results import load_histories, load_runs

    runs = study_plan.study_runs(load_runs(), study_plan.planned_runs("study"))
    family, names = overview.main_family(runs)
    return runs, load_histories(), family, names


def test_discussion_underfit_evidence_holds() -> None:
    """discussion.md / the abstract: every study model ends far above the label-smoothing floor
    (at least twice it), training top-1 stays below test top-1 for all but a few and never more
    than 2 points above, and the models that train slower test worse (rank correlation < -0.5)."""
    from cifarlib.report import discussion

    runs, histories, _, _ = _study()
    table = discussion.underfit_table(runs, histories)
    facts = discussion.underfit_facts(table)
    assert facts["models"] >= 11
    assert facts["ratio_min"] >= 2.0
    assert facts["below_test"] >= facts["models"] - 2 and table["gap"].max() < 2.0
    assert facts["rank_corr"] < -0.5


def test_label_smoothing_floor_is_the_smoothed_targets_entropy() -> None:
    from math import log

    from cifarlib.report.discussion import label_smoothing_floor

    assert label_smoothing_floor(0.0, 10) == 0.0
    assert abs(label_smoothing_floor(0.1, 10) - (-(0.91 * log(0.91)) - 9 * 0.01 * log(0.01))) < 1e-12
    assert abs(label_smoothing_floor(0.1, 100) - label_smoothing_floor(0.1, 10)) > 0.1


def test_discussion_unsmoothed_runs_also_stay_far_from_their_floor() -> None:
    """discussion.md: without label smoothing the floor is 0 and the training loss stays far above it."""
    from cifarlib.report.discussion import final_epochs

    runs, histories, _, _ = _study()
    last = final_epochs(histories)
    ls0 = last[(last["experiment"] == "ablation_ls") & (last["variant"] == "ls0")]
    assert len(ls0) >= 2 and (ls0["train_loss"] > 0.5).all()


def test_discussion_ablation_lessons_hold() -> None:
    """discussion.md: ECA on/off, k=5, post_add, s=3 and ε=0 have no corrected difference; k=7
    is positive and its paired t excludes 0, but it does not survive the block model and Holm; s=4 is lower after Holm; the
    paper's γ₀=1e-6 is lower than the headline's γ₀=1 after Holm, which wins back more than half of its gap."""
    from cifarlib.report.discussion import arm_row

    _, _, family, names = _study()
    call = lambda c, l: arm_row(family, c, l)  # noqa: E731
    for comparison, label in (("ECA 开 / 关", "开（eca_resnet20）"), ("ECA 卷积核大小", "k=5"),
                              ("注意力的位置", "残差相加之后（post_add）"), ("Ghost 比例", "s=3"),
                              ("标签平滑", "ε=0（不平滑）")):
        assert not call(comparison, label)["holm_significant"], (comparison, label)
    k7 = call("ECA 卷积核大小", "k=7")  # positive, its paired t excludes 0, but not after the block model + Holm
    assert k7["diff"] > 0 and k7["t_low"] > 0 and not k7["holm_significant"]
    s4 = call("Ghost 比例", "s=4")
    assert s4["holm_significant"] and s4["diff"] < 0
    paper, convnext = call("ConvNeXt 嫁接的层缩放初值", "γ₀=10⁻⁶（论文）"), call(names["main_iso"], "convnext_resnet20_iso")
    gap_paper = convnext["diff"] + paper["diff"]  # the paper init against resnet20
    assert paper["holm_significant"] and paper["diff"] < 0 and convnext["diff"] < 0
    assert paper["diff"] / gap_paper > 0.5  # gamma0 = 1 wins back more than half of the paper init's gap


def test_discussion_convnext_at_gamma_one_is_still_the_lowest_iso_graft() -> None:
    """discussion.md: the headline ConvNeXt graft (gamma0 = 1, chosen on the test set) is still the
    lowest of the iso set, so choosing its init on the test set does not change that call."""
    _, _, family, names = _study()
    iso = family[family["comparison"] == names["main_iso"]]
    assert iso.loc[iso["diff"].idxmin(), "label"] == "convnext_resnet20_iso"
    assert (iso["label"] == "convnext_resnet20_iso").sum() == 1


def test_discussion_threats_hold() -> None:
    """discussion.md: the recipe was compared on resnet20 only, on the test set (the records have
    no validation metric), and every study run is on the CPU."""
    from cifarlib.results import load_runs

    runs, histories, _, _ = _study()
    recipe = load_runs().query("experiment == 'recipe'")
    assert set(recipe["model"]) == {"resnet20"} and recipe["variant"].nunique() >= 2
    assert not any(c.startswith("val") for c in histories.columns)
    assert all("cuda" not in d.lower() and "gpu" not in d.lower() for d in runs["device"])


def test_abstract_length_and_verdicts() -> None:
    """intro.md: the abstract has 150-250 Han characters, and its calls are the corrected ones."""
    from cifarlib.report import overview, study_plan
    from cifarlib.results import load_histories, load_runs

    runs, planned = load_runs(), study_plan.planned_runs("study")
    text = overview.abstract(runs, planned, load_histories())
    assert 150 <= overview.han_count(text) <= 250, overview.han_count(text)
    _, _, family, names = _study()
    calls = overview.corrected_calls(family[family["comparison"] == names["main_iso"]])
    assert f"{len(calls['lower'])} 个显著更低" in text
    assert ("没有一个显著更高" in text) == calls["higher"].empty
