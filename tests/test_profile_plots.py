"""Cost accounting (parameters, FLOPs) and figures with Chinese text."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from cifarlib.report.plots import (accuracy_vs_cost, block_diagram, curves_small_multiples, setup_style,  # noqa: E402
                            training_curves)
from cifarlib.profile import count_flops, count_parameters, model_table  # noqa: E402


def test_flops_of_one_conv_follow_the_formula() -> None:
    conv = nn.Conv2d(3, 16, 3, padding=1, bias=False)
    assert count_flops(conv) == 2 * 3 * 16 * 9 * 32 * 32  # one multiply-add = 2 FLOPs


def test_resnet20_costs() -> None:
    table = model_table(["resnet20"])
    row = table.iloc[0]
    assert row["params_m"] == pytest.approx(0.278324)
    # 3x3 convs of the three stages plus stem, shortcuts and classifier: ~40.8M multiply-adds.
    assert 0.080 < row["gflops"] < 0.083
    assert list(table.columns) == ["model", "family", "method", "params_m", "gflops"]


def test_count_parameters_skips_frozen() -> None:
    layer = nn.Linear(4, 2)
    layer.bias.requires_grad_(False)
    assert count_parameters(layer) == 8 and count_parameters(layer, trainable_only=False) == 10


def _render_without_warnings(fig) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing CJK glyph raises here
        fig.canvas.draw()


def test_chinese_text_renders_with_the_cjk_font() -> None:
    family = setup_style()
    assert "CJK" in family
    fig = block_diagram(["输入 x", "深度卷积 7×7", "⊕ 相加", "ReLU"], "中文标题：注意力", skip=(0, 2))
    _render_without_warnings(fig)
    # the CJK font lacks sub/superscript digits: the DejaVu fallback draws them (ablation labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # block_diagram lays itself out: glyph warnings come from there too
        block_diagram(["γ₀=10⁻⁶（论文）", "γ₀=1"], "层缩放初值", skip=(0, 1)).canvas.draw()


def test_block_diagram_rejects_bad_skip() -> None:
    with pytest.raises(ValueError, match="skip"):
        block_diagram(["a", "b"], "t", skip=(1, 0))


def test_result_figures_render() -> None:
    history = pd.DataFrame({"epoch": [1, 2, 1, 2], "train_loss": [2.0, 1.5, 2.1, 1.4],
                            "test_top1": [30.0, 40.0, 31.0, 42.0], "model": ["a", "a", "b", "b"]})
    _render_without_warnings(training_curves(history))
    runs = pd.DataFrame({"model": ["a", "a", "b"], "method": ["ResNet", "ResNet", "ECA-Net"],
                         "test_top1": [50.0, 52.0, 55.0], "params_m": [0.27, 0.27, 0.28]})
    fig = accuracy_vs_cost(runs, "params_m")
    _render_without_warnings(fig)
    assert fig.axes[0].get_xlabel() == "参数量（百万）"


def _crowded_runs() -> pd.DataFrame:
    rows = [dict(model=f"m{i}_resnet20", method=f"M{i}", params_m=0.28 + 0.0001 * i, gflops=0.08,
                 test_top1=80.0 + 0.01 * i) for i in range(11)]
    return pd.DataFrame(rows)


def test_accuracy_vs_cost_labels_do_not_overlap_and_colours_differ() -> None:
    fig = accuracy_vs_cost(_crowded_runs(), cost="params_m")
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text()]
    assert len(labels) == 11
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two point labels overlap"
    colours = {tuple(c) for c in ax.collections[0].get_facecolors().round(3).tolist()}
    assert len(colours) == 11
    assert ax.xaxis.get_major_formatter().get_offset() == ""  # no "1e-5+..." offset notation


def test_small_multiples_have_one_panel_per_model_and_a_reference_line() -> None:
    history = pd.DataFrame({"epoch": [1, 2] * 6, "seed": [0, 0, 1, 1] * 3,
                            "test_top1": [30.0, 40.0, 31.0, 42.0] * 3, "model": ["a"] * 4 + ["b"] * 4 + ["c"] * 4})
    reference = pd.DataFrame({"epoch": [1, 2, 1, 2], "seed": [0, 0, 1, 1], "test_top1": [20.0, 30.0, 22.0, 32.0]})
    fig = curves_small_multiples(history, reference, ncols=2)
    _render_without_warnings(fig)
    visible = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in visible] == ["a（2 个种子）", "b（2 个种子）", "c（2 个种子）"]
    assert len(fig.axes) == 4 and not fig.axes[3].axison  # a 2x2 grid, the spare panel hidden
    first = visible[0].get_lines()
    assert len(first) == 3  # the reference mean and one line per seed
    assert list(first[0].get_ydata()) == [21.0, 31.0] and first[0].get_linestyle() == "--"


def test_per_class_plot_renders_one_bar_group_per_class() -> None:
    from cifarlib.report.plots import per_class_plot

    table = pd.DataFrame({"resnet20": [90.0, 70.0], "eca_resnet20": [91.0, 68.0]}, index=["飞机", "猫"])
    fig = per_class_plot(table)
    _render_without_warnings(fig)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["飞机", "猫"]
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == {"resnet20", "eca_resnet20"}


def test_launch_counts_leave_views_out_and_rank_the_grafts_above_the_backbone() -> None:
    from cifarlib.models import create_model
    from cifarlib.profile import count_launches

    class Views(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x.view(len(x), -1).t().t()[:, :4] * self.w  # views, then one multiply

    counts = count_launches(Views())
    assert counts["eval_step"] == 1  # the multiply; the views launch nothing
    base = count_launches(create_model("resnet20", num_classes=10))
    graft = count_launches(create_model("lsk_resnet20", num_classes=10))
    assert 0 < base["eval_step"] < base["train_step"] < graft["train_step"]
    assert count_launches(create_model("resnet20", num_classes=10), batch_size=8) == base  # batch-independent


def test_a_difference_axis_never_nests_brackets() -> None:
    from cifarlib.report.plots import difference_label

    assert difference_label("resnet20") == "与参考（resnet20）的 top-1 之差（百分点，95% 区间）"
    assert difference_label("关（resnet20）") == "与参考“关（resnet20）”的 top-1 之差（百分点，95% 区间）"
