"""A training recipe as one Chinese phrase, computed from what ran or what the plan asks for, so
that no page types a learning rate, a batch size or an epoch count by hand.

:func:`planned_config` reads an experiment's configuration from ``experiments/plan.yaml`` (the
preset's settings over :class:`cifarlib.engine.TrainConfig`'s defaults); :func:`recorded_config`
reads the configuration the records of a group share. :func:`recipe_text` says it in Chinese.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

# the phrase's parts, in the order a reader wants them
ALL_PARTS = ("optimizer", "lr", "weight_decay", "schedule", "batch_size", "label_smoothing", "augment",
             "data", "epochs", "tta")


def planned_config(preset: str, experiment: str) -> dict[str, Any]:
    """The configuration every planned run of ``experiment`` in ``preset`` shares (model, variant,
    seed and whatever else differs between them left out). ValueError when nothing is planned."""
    from ..sweep import plan_runs

    configs = [dataclasses.asdict(r.config) for r in plan_runs(preset) if r.experiment == experiment]
    if not configs:
        raise ValueError(f"preset {preset!r} of experiments/plan.yaml plans no run of experiment {experiment!r}")
    return shared(configs)


def recorded_config(runs: pd.DataFrame, results_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """The configuration the records of ``runs`` (a :func:`cifarlib.results.load_runs` frame, whose
    ``path`` column is relative to ``results_dir``, default the committed results) share.
    ValueError when ``runs`` is empty."""
    from ..results import DEFAULT_RESULTS_DIR

    if runs.empty:
        raise ValueError("no records: a recorded recipe needs at least one run")
    root = Path(results_dir if results_dir is not None else DEFAULT_RESULTS_DIR)
    return shared([json.loads((root / path).read_text())["config"] for path in runs["path"]])


def shared(configs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The keys whose value is the same in every configuration."""
    first = configs[0]
    return {key: value for key, value in first.items() if all(c.get(key) == value for c in configs[1:])}


def _optimizer(c: Mapping[str, Any]) -> str | None:
    name = c.get("optimizer")
    if name == "sgd":
        momentum = c.get("momentum")
        detail = [f"动量 {momentum:g}"] if momentum is not None else []
        detail += ["Nesterov"] if c.get("nesterov") else []
        return "SGD" + (f"（{'，'.join(detail)}）" if detail else "")
    return {"adamw": "AdamW"}.get(name, name)


def _augment(c: Mapping[str, Any]) -> str | None:
    if not {"mixup", "cutmix", "cutout"} <= set(c):
        return None
    used = [f"mixup（α={c['mixup']:g}）"] if c["mixup"] else []
    used += [f"CutMix（α={c['cutmix']:g}）"] if c["cutmix"] else []
    used += [f"Cutout（{c['cutout']} 像素）"] if c["cutout"] else []
    return "数据增强为随机裁剪、水平翻转与" + "、".join(used) if used else "只用随机裁剪与水平翻转，不用 mixup、CutMix"


def _data(c: Mapping[str, Any]) -> str | None:
    if "train_subset" not in c:
        return None
    train = f"类别均衡的 {c['train_subset']} 张训练子集" if c["train_subset"] else "全部训练图像"
    test = c.get("test_subset")
    return train + (f"、{test} 张测试图像" if test else "")


_PHRASES = {
    "optimizer": _optimizer,
    "lr": lambda c: f"峰值学习率 {c['lr']:g}" if "lr" in c else None,
    "weight_decay": lambda c: f"权重衰减 {c['weight_decay']:g}" if "weight_decay" in c else None,
    "schedule": lambda c: {"onecycle": "one-cycle 学习率调度", "cosine": "余弦学习率调度"}.get(c["schedule"], f"{c['schedule']} 学习率调度")
    if "schedule" in c else None,
    "batch_size": lambda c: f"批大小 {c['batch_size']}" if "batch_size" in c else None,
    "label_smoothing": lambda c: (f"标签平滑 {c['label_smoothing']:g}" if c["label_smoothing"] else "不用标签平滑")
    if "label_smoothing" in c else None,
    "augment": _augment,
    "data": _data,
    "epochs": lambda c: f"{c['epochs']} 轮" if "epochs" in c else None,
    "tta": lambda c: {"none": "不用测试时增强", "flip": "测试时做水平翻转增强"}.get(c["tta"]) if "tta" in c else None,
}


def recipe_text(config: Mapping[str, Any], parts: Sequence[str] = ALL_PARTS) -> str:
    """``parts`` of ``config`` as Chinese phrases joined by "，" (a part the configuration does not
    fix, e.g. one that differs between the records, is left out)."""
    unknown = [p for p in parts if p not in _PHRASES]
    if unknown:
        raise ValueError(f"unknown recipe parts {unknown}; choose from {list(_PHRASES)}")
    return "，".join(text for part in parts if (text := _PHRASES[part](config)))
