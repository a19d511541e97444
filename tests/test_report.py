"""Book helpers: seed statistics and budget sentences."""

from __future__ import annotations

import math

import pandas as pd

from cifarlib.report.budget_line import budget_text
from cifarlib.report.tables import group_display, summary_table


def _runs() -> pd.DataFrame:
    base = dict(dataset="cifar10-jpeg", experiment="x", epochs=10, batch_size=128, train_images=50000,
                test_images=10000, params_m=0.28, gflops=0.08, family="graft", method="ECA-Net",
                train_images_per_s=500.0, wall_time_s=600.0, device="CPU (2 threads)", variant="default")
    rows = [dict(base, model="eca_resnet20", seed=s, test_top1=t, test_top5=99.0)
            for s, t in [(0, 80.0), (1, 82.0), (2, 84.0)]]
    rows.append(dict(base, model="resnet20", method="ResNet", family="backbone", seed=0,
                     test_top1=81.0, test_top5=99.0))
    return pd.DataFrame(rows)


def test_summary_is_mean_and_sample_sd_over_seeds() -> None:
    table = summary_table(_runs()).set_index("model")
    assert table.loc["eca_resnet20", "top1"] == 82.0
    assert table.loc["eca_resnet20", "top1_sd"] == 2.0  # sample standard deviation
    assert table.loc["eca_resnet20", "seeds"] == 3
    assert math.isnan(table.loc["resnet20", "top1_sd"])  # one seed: no spread, not zero
    assert table.loc["eca_resnet20", "wall_time_min"] == 10.0


def test_budget_names_data_set_images_epochs_seeds_and_device() -> None:
    text = budget_text(_runs())
    for fragment in ("cifar10-jpeg", "JPEG", "50000", "10000", "10 轮", "1–3 个随机种子", "CPU（2 线程）"):
        assert fragment in text, fragment


def test_group_display_merges_sd_into_top1_and_hides_a_lone_default_variant() -> None:
    shown = group_display(summary_table(_runs())).set_index("模型")
    assert shown.loc["eca_resnet20", "top-1 (%)"] == "82.00 ± 2.00"
    assert shown.loc["resnet20", "top-1 (%)"] == "81.00"  # one seed: no ± at all
    assert "变体" not in shown.columns and "轮数" not in shown.columns
    assert shown.loc["eca_resnet20", "用时（分钟）"] == "10.0"
    two_variants = _runs().assign(variant=["default", "default", "default", "k5"])
    assert "变体" in group_display(summary_table(two_variants)).columns


def test_device_names_read_as_chinese_in_prose() -> None:
    from cifarlib.report.budget_line import device_zh

    assert device_zh("AMD EPYC (1 threads)") == "AMD EPYC（1 线程）"
    assert device_zh("NVIDIA H200") == "NVIDIA H200"


def test_arm_order_puts_single_seed_rows_apart_and_marks_them() -> None:
    from cifarlib.report.tables import in_arm_order

    runs = pd.DataFrame([{"model": m, "variant": "default", "method": m, "family": "graft", "seed": s,
                          "epochs": 4, "test_top1": top1, "test_top5": 99.0, "params_m": 0.27, "gflops": 0.04,
                          "train_images_per_s": 100.0, "wall_time_s": 600.0}
                         for m, top1, seeds in (("resnet20", 77.6, 3), ("high_one", 79.0, 1), ("b", 70.0, 3),
                                                ("a", 76.0, 3)) for s in range(seeds)])
    order = [("resnet20", "default"), ("a", "default"), ("b", "default"), ("high_one", "default")]
    table = in_arm_order(summary_table(runs), order)
    assert list(table["model"]) == ["resnet20", "a", "b", "high_one"]  # plan order, the one-seed row last
    shown = group_display(table)
    assert list(shown["模型"]) == ["resnet20", "a", "b", "high_one（单种子）"]
    assert "（单种子）" not in "".join(group_display(in_arm_order(summary_table(runs[runs["seed"] == 0]), order))["模型"])


def test_budget_line_and_headers_follow_the_bracket_rules() -> None:
    """The budget line puts the data set's description in brackets, so the description has none
    (no nested （（））); a header's unit bracket is full-width after a Chinese label, half-width
    after a Latin one (``参数量（百万）``, ``top-1 (%)``): tools/check_book.py's rules."""
    import importlib.util
    from pathlib import Path

    from cifarlib.report.budget_line import DATASET_DESCRIPTIONS
    from cifarlib.report.tables import CHINESE_COLUMNS

    spec = importlib.util.spec_from_file_location(
        "check_book", Path(__file__).resolve().parent.parent / "tools" / "check_book.py")
    check_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_book)
    for tag in DATASET_DESCRIPTIONS:
        text = budget_text(_runs().assign(dataset=tag))
        assert check_book.nested_brackets(text) == [], text
    for header in CHINESE_COLUMNS.values():
        page = f'<main><table><tr><th>{header}</th></tr></table></main>'
        assert check_book.typography_problems(page) == [], header


def test_run_appendix_has_a_table_per_experiment_and_a_row_per_run() -> None:
    from cifarlib.report.run_appendix import COLUMNS, experiment_tables

    runs = pd.concat([_runs(), _runs().assign(experiment="a", test_top1=70.123)], ignore_index=True)
    tables = experiment_tables(runs)
    assert [caption for caption, _ in tables] == ["CIFAR-10 JPEG 副本 / a：4 个运行", "CIFAR-10 JPEG 副本 / x：4 个运行"]
    caption, table = tables[1]
    assert tuple(table.columns) == COLUMNS
    assert table["模型"].tolist() == ["eca_resnet20"] * 3 + ["resnet20"]
    assert table.iloc[0].tolist() == ["eca_resnet20", "default", 0, "80.00", "0.280", 10, "10.0"]
    assert tables[0][1]["top-1 (%)"].tolist() == ["70.12"] * 4
    assert experiment_tables(runs.iloc[0:0]) == []
    try:
        experiment_tables(runs.drop(columns="wall_time_s"))
    except ValueError as err:
        assert "wall_time_s" in str(err) and "load_runs" in str(err)
    else:
        raise AssertionError("a run table without wall_time_s was accepted")
