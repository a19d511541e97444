"""The recipe options of the `full` preset: AdamW, Cutout, mixup, CutMix (engine wiring)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

from cifarlib.engine import TrainConfig, augmentation_generator, make_optimizer, same_config, train
from helpers import tiny_data
from test_engine import quick_config


def test_adamw_is_built_with_decoupled_decay_groups() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    opt = make_optimizer(TrainConfig(optimizer="adamw", weight_decay=0.05, lr=1e-3, momentum=0.9), model)
    assert isinstance(opt, torch.optim.AdamW)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)
    assert isinstance(make_optimizer(TrainConfig(), model), torch.optim.SGD)


def test_augmentations_are_off_by_default_and_seeded_by_epoch() -> None:
    device = torch.device("cpu")
    assert augmentation_generator(TrainConfig(), 0, device) is None
    on = TrainConfig(cutout=8, seed=1)
    a, b = augmentation_generator(on, 2, device), augmentation_generator(on, 2, device)
    assert torch.equal(torch.rand(3, generator=a), torch.rand(3, generator=b))
    c = augmentation_generator(on, 3, device)
    assert not torch.equal(torch.rand(3, generator=augmentation_generator(on, 2, device)), torch.rand(3, generator=c))


def test_a_checkpoint_from_before_a_new_option_still_resumes() -> None:
    config = TrainConfig(model="resnet20")
    older = {k: v for k, v in asdict(config).items() if k not in ("cutout", "mixup", "cutmix", "optimizer")}
    assert same_config(json.dumps(older), config)
    assert not same_config(json.dumps(older), TrainConfig(model="resnet20", mixup=0.2))
    assert not same_config(json.dumps({**older, "lr": 0.5}), config)


def test_a_checkpoint_from_before_tta_resumes_only_a_run_scored_without_it() -> None:
    """Before ``tta`` existed every run was scored plainly, so an old checkpoint is the run with
    ``tta="none"`` (what the study preset pins), not one with today's default ``flip``."""
    plain = TrainConfig(model="resnet20", tta="none")
    older = {k: v for k, v in asdict(plain).items() if k != "tta"}
    assert same_config(json.dumps(older), plain)
    assert not same_config(json.dumps(older), TrainConfig(model="resnet20"))


@pytest.mark.parametrize("options", [dict(optimizer="adamw", lr=1e-3, weight_decay=0.05),
                                     dict(cutout=8, mixup=0.2, cutmix=1.0)])
def test_recipe_options_change_training(options: dict) -> None:
    """Exact resume with these options is tested in test_engine.test_interrupted_run_resumes_exactly."""
    data = tiny_data()
    with_options = train(quick_config(epochs=1, **options), data=data, progress=False)
    plain = train(quick_config(epochs=1), data=data, progress=False)
    assert plain.history[0]["train_loss"] != with_options.history[0]["train_loss"]  # the options act
