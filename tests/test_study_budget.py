"""The study's cost table: spent hours from records, the rest measured or estimated."""

import pandas as pd
import pytest

from cifarlib.report import study_plan
from cifarlib.report.study_budget import (budget_display, budget_sentence, hours_at_seeds, model_gflops,
                                          read_inference_speed, study_budget)

PLANNED = pd.DataFrame(
    [("main", "resnet20", "default", s) for s in (0, 1, 2)]
    + [("main", "slow_graft", "default", 0)]
    + [("main_iso", "fast_iso", "default", s) for s in (0, 1, 2)],
    columns=study_plan.RUN_KEYS)
INFERENCE = {"resnet20": 1000.0, "slow_graft": 250.0, "fast_iso": 2000.0}


def _runs(rows):
    return pd.DataFrame(rows, columns=study_plan.RUN_KEYS + ["wall_time_s", "test_top1"])


RUNS = _runs([("main", "resnet20", "default", 0, 600.0, 77.0), ("main", "resnet20", "default", 1, 660.0, 77.4),
              ("main_iso", "fast_iso", "default", 0, 300.0, 78.0)])


def test_budget_counts_spent_time_and_prices_missing_runs():
    budget = study_budget(RUNS, PLANNED, INFERENCE).set_index("model")
    ref = budget.loc["resnet20"]
    assert (ref["planned"], ref["done"], ref["basis"]) == (3, 2, "measured")
    assert ref["minutes_per_run"] == pytest.approx(10.5)  # mean of 10 and 11 minutes
    assert ref["hours_spent"] == pytest.approx(1260 / 3600)
    assert ref["hours_left"] == pytest.approx(10.5 / 60)  # one seed left
    slow = budget.loc["slow_graft"]  # no record: resnet20's minutes x 1000 / 250 images/s
    assert (slow["basis"], slow["done"]) == ("estimated", 0)
    assert slow["minutes_per_run"] == pytest.approx(42.0)
    assert slow["hours_left"] == pytest.approx(0.7)
    fast = budget.loc["fast_iso"]  # its own record wins over the inference proxy
    assert (fast["basis"], fast["minutes_per_run"], fast["hours_left"]) == ("measured", 5.0, pytest.approx(10 / 60))


def test_hours_at_three_seeds_adds_the_seeds_the_plan_left_out():
    budget = study_budget(RUNS, PLANNED, INFERENCE)
    spent = (600 + 660 + 300) / 3600
    expected = spent + (10.5 + 3 * 42.0 + 2 * 5.0) / 60
    assert hours_at_seeds(budget, ("main", "main_iso"), 3) == pytest.approx(expected)
    assert hours_at_seeds(budget, ("main_iso",), 1) == pytest.approx(300 / 3600)


def test_sentence_states_the_shortfall_and_the_single_seed_models():
    budget = study_budget(RUNS, PLANNED, INFERENCE)
    text = budget_sentence(budget, RUNS, target_top1=80.0)
    assert "研究计划的 7 个运行中已完成 3 个" in text
    assert "77.20 ± 0.28%（2 个种子），**没有达到**" in text
    assert "`slow_graft` 这 1 个比 `resnet20` 慢的嫁接只跑 1 个种子" in text
    assert "的 4.0 倍" in text  # slow_graft costs 42 / 10.5 minutes
    reached = budget_sentence(budget, RUNS, target_top1=77.0)
    assert "**没有达到**" not in reached and "达到研究预先设定的 77% 目标" in reached


def test_bad_input_names_the_fix():
    with pytest.raises(ValueError, match="reference model 'resnet20'"):
        study_budget(RUNS[RUNS["model"] != "resnet20"], PLANNED, INFERENCE)
    with pytest.raises(FileNotFoundError, match="python -m cifarlib models"):
        read_inference_speed("/nonexistent/models_cpu.txt")


def test_committed_inference_table_prices_every_study_model():
    speeds = read_inference_speed()
    assert set(study_plan.planned_runs("study")["model"]) <= set(speeds)
    assert all(v > 0 for v in speeds.values())


def test_display_has_chinese_headers_and_one_row_per_model():
    shown = budget_display(study_budget(RUNS, PLANNED, INFERENCE))
    assert list(shown["已完成 / 计划"]) == ["2 / 3", "0 / 1", "1 / 3"]
    assert list(shown["依据"]) == ["实测", "估计", "实测"]
    assert list(shown["每次运行（分钟）"]) == ["10.5", "42.0", "5.0"]


def test_a_new_model_without_a_measured_row_is_priced_by_flops():
    """No record and no inference row (a method just added): resnet20's minutes x its FLOPs ratio,
    labelled as such, never a KeyError."""
    gflops = {"resnet20": 0.08, "slow_graft": 0.2, "fast_iso": 0.04}.__getitem__
    budget = study_budget(RUNS, PLANNED, {"resnet20": 1000.0}, gflops=gflops).set_index("model")
    assert (budget.loc["slow_graft", "basis"], budget.loc["slow_graft", "minutes_per_run"]) == ("flops", pytest.approx(26.25))
    assert budget.loc["fast_iso", "basis"] == "measured"  # its own record still wins
    shown = budget_display(budget.reset_index())
    assert list(shown["依据"]) == ["实测", "按 FLOPs 估计", "实测"]
    text = budget_sentence(budget.reset_index(), RUNS)
    assert "`slow_graft` 既没有记录也未测推理吞吐，按前向 FLOPs 比例估计" in text


def test_model_gflops_counts_a_registered_model():
    assert model_gflops("resnet20") == pytest.approx(0.082, abs=0.001)


def test_minutes_per_run_are_the_experiments_own() -> None:
    """main's resnet20 costs what main's records say, not the mean over every experiment."""
    runs = _runs([("main", "resnet20", "default", 0, 600.0, 77.0),
                  ("ablation_ls", "resnet20", "ls0", 0, 1800.0, 77.0)])
    planned = pd.DataFrame([{"experiment": e, "model": "resnet20", "variant": v, "seed": s}
                            for e, v in (("main", "default"), ("ablation_ls", "ls0"), ("ablation_x", "x"))
                            for s in range(2)])
    budget = study_budget(runs, planned, INFERENCE).set_index("experiment")
    assert budget.loc["main", "minutes_per_run"] == pytest.approx(10.0)
    assert budget.loc["ablation_ls", "minutes_per_run"] == pytest.approx(30.0)
    assert budget.loc["ablation_x", ["basis", "minutes_per_run"]].tolist() == ["measured_elsewhere", pytest.approx(20.0)]
    assert "其他实验实测" in list(budget_display(budget.reset_index())["依据"])
