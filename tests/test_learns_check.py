"""cifarlib.report.learns_check: the full-size learns-check's criterion and its sentence, on hand-made runs."""

from __future__ import annotations

import pandas as pd

from cifarlib.report.learns_check import chance_top1, learns_sentence, learns_table


def _runs(experiment: str, rows: list[tuple[str, float, int]]) -> pd.DataFrame:
    return pd.DataFrame([{"experiment": experiment, "run": f"{experiment}/{m}", "model": m, "dataset": "cifar10-jpeg",
                          "test_top1": top1, "gflops": i, "epochs": epochs}
                         for i, (m, top1, epochs) in enumerate(rows)])


def _histories(experiment: str, losses: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"experiment": experiment, "run": f"{experiment}/{m}", "epoch": e + 1, "train_loss": loss}
                         for m, values in losses.items() for e, loss in enumerate(values)])


RUNS = pd.concat([_runs("fullcheck", [("a", 35.0, 3), ("mixer", 17.55, 3), ("flat", 40.0, 3)]),
                  _runs("fullcheck_long", [("mixer", 31.0, 10)])])
HISTORIES = pd.concat([_histories("fullcheck", {"a": [2.2, 1.9], "mixer": [2.223, 2.245, 2.167], "flat": [2.0, 2.1]}),
                       _histories("fullcheck_long", {"mixer": [2.2, 1.8]})])


def test_chance_follows_the_class_count() -> None:
    assert chance_top1("cifar10-jpeg") == 10 and chance_top1("cifar100") == 1


def test_a_run_learns_only_above_twice_chance_with_a_falling_loss() -> None:
    table = learns_table(RUNS, HISTORIES).set_index("model")
    assert table["learns"].to_dict() == {"a": True, "mixer": False, "flat": False}  # flat: loss rose
    assert table.loc["mixer", ["first_loss", "last_loss"]].tolist() == [2.223, 2.167]
    assert learns_table(RUNS.iloc[:0], HISTORIES).empty


def test_the_table_follows_the_plan_not_top1() -> None:
    assert list(learns_table(RUNS, HISTORIES, order=["flat", "mixer", "a"])["model"]) == ["flat", "mixer", "a"]
    assert list(learns_table(RUNS, HISTORIES, order=["mixer"])["model"]) == ["mixer", "a", "flat"]


def test_sentence_reports_each_miss_and_what_the_follow_up_found() -> None:
    checks, longer = learns_table(RUNS, HISTORIES), learns_table(RUNS, HISTORIES, "fullcheck_long")
    text = learns_sentence(checks, longer)
    assert text.startswith("已完成的 3 个完整尺寸模型中有 1 个通过了判据")
    assert "`mixer` 没有通过（训练损失从 2.223 到 2.167，测试 top-1 17.55%，判据要求至少 20%）" in text
    assert "同一配方训练 10 轮后（训练损失从 2.200 到 1.800，测试 top-1 31.00%，判据要求至少 20%），通过了判据" in text
    assert "只是 3 轮的预算对它太少" in text
    assert "本书还没有检验" in text.split("`flat`")[1]  # no follow-up for flat
    assert text.endswith("在 3 轮的检查预算下，测试 top-1 从 17.55% 到 40.00%"
                         "（`mixer` 在 `fullcheck_long` 中训练 10 轮后为 31.00%，不计入这一范围）。")
    failing = longer.assign(test_top1=15.0, learns=False)
    assert "仍未通过判据" in learns_sentence(checks, failing)
