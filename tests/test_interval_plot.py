"""The outlier panel of the difference plot and the hollow single-seed points."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd
from matplotlib import pyplot as plt

from cifarlib.report.cost_plot import accuracy_vs_cost_by_seeds, seed_summary
from cifarlib.report.interval_plot import outlier_arms, split_interval_plot


def _table(diffs: list[float]) -> pd.DataFrame:
    rows = [{"label": "ref", "role": "reference", "diff": float("nan"), "ci_low": float("nan"),
             "ci_high": float("nan"), "boot_low": float("nan"), "boot_high": float("nan"), "pairs": 3,
             "significant": False}]
    rows += [{"label": f"arm{i}", "role": "arm", "diff": d, "ci_low": d - 0.6, "ci_high": d + 0.6,
              "boot_low": d - 0.3, "boot_high": d + 0.3, "pairs": 3, "significant": abs(d) > 0.6}
             for i, d in enumerate(diffs)]
    return pd.DataFrame(rows)


def test_the_far_arm_gets_its_own_panel_and_the_rest_the_width() -> None:
    table = _table([-0.5, -1.2, -34.2, 0.1, -2.0])
    assert list(outlier_arms(table[table["role"] == "arm"].reset_index(drop=True))) == [False, False, True, False, False]
    fig = split_interval_plot(table, "resnet20")
    outer, main = fig.axes[0], fig.axes[1]  # the outlier lies left: its panel comes first
    low, high = main.get_xlim()
    assert low > -3.5 and high < 1.5  # the main panel spans only the small intervals
    assert outer.get_xlim()[0] < -34.8 < -33.6 < outer.get_xlim()[1]
    plt.close(fig)


def test_no_outlier_one_panel() -> None:
    fig = split_interval_plot(_table([-0.5, -1.2, 0.1]), "resnet20")
    assert len(fig.axes) == 1
    plt.close(fig)
    assert not outlier_arms(_table([-0.5, -30.0])[lambda t: t["role"] == "arm"]).any()  # two: no outlier


def test_single_seed_points_are_hollow() -> None:
    runs = pd.DataFrame([{"model": m, "method": m, "seed": s, "test_top1": 70.0 + s, "params_m": p}
                         for m, p, seeds in (("a", 0.27, 3), ("b", 0.3, 1)) for s in range(seeds)])
    assert seed_summary(runs, "params_m").set_index("model")["seeds"].to_dict() == {"a": 3, "b": 1}
    fig = accuracy_vs_cost_by_seeds(runs)
    faces = {tuple(line.get_xdata()): line.get_markerfacecolor() for line in fig.axes[0].lines
             if line.get_marker() == "o" and len(line.get_xdata())}
    assert faces[(0.3,)] == "white" and faces[(0.27,)] != "white"
    assert "空心：1 个种子" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)
