"""The recipe phrase is computed from the plan and the records (cifarlib.report.recipe_line)."""

from __future__ import annotations

import pytest

from cifarlib.report.recipe_line import planned_config, recipe_text, recorded_config, shared
from cifarlib.results import load_runs


def test_the_phrase_says_what_the_plan_sets() -> None:
    text = recipe_text(planned_config("fullcheck", "fullcheck"))
    assert text.startswith("AdamW，峰值学习率 0.002，权重衰减 0.05，one-cycle 学习率调度，批大小 64")
    assert "类别均衡的 2000 张训练子集、2000 张测试图像" in text and "，3 轮" in text
    e10 = recipe_text(planned_config("study_e10", "main_iso_e10"))
    assert "SGD（动量 0.9，Nesterov）" in e10 and "全部训练图像" in e10 and "10 轮" in e10 and "不用测试时增强" in e10
    assert recipe_text(planned_config("fullcheck", "fullcheck_long"), ("epochs",)) == "10 轮"


def test_a_part_that_differs_between_runs_is_left_out() -> None:
    config = shared([{"lr": 0.1, "epochs": 4}, {"lr": 0.1, "epochs": 10}])
    assert config == {"lr": 0.1} and recipe_text(config) == "峰值学习率 0.1"
    assert recipe_text({"label_smoothing": 0.0, "tta": "flip"}) == "不用标签平滑，测试时做水平翻转增强"
    assert recipe_text({"mixup": 0.2, "cutmix": 0.0, "cutout": 8}, ("augment",)) == "数据增强为随机裁剪、水平翻转与mixup（α=0.2）、Cutout（8 像素）"


def test_the_records_of_a_group_give_their_shared_recipe() -> None:
    runs = load_runs()
    config = recorded_config(runs[runs["experiment"] == "fullcheck"])
    assert "model" not in config and config["seed"] == 0  # ten models, one seed: what differs is gone
    assert recipe_text(config, ("optimizer", "epochs")) == "AdamW，3 轮"
    planned = planned_config("fullcheck", "fullcheck")
    assert all(config[k] == planned[k] for k in ("lr", "weight_decay", "batch_size", "epochs", "train_subset"))


def test_bad_requests_name_the_problem() -> None:
    with pytest.raises(ValueError, match="plans no run of experiment 'nope'"):
        planned_config("fullcheck", "nope")
    with pytest.raises(ValueError, match="unknown recipe parts"):
        recipe_text({}, ("speed",))
    with pytest.raises(ValueError, match="no records"):
        recorded_config(load_runs().iloc[0:0])
