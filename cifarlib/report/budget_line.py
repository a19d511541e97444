"""The budget line above every table: which data set, how many images and epochs, on what device,
in Chinese."""

from __future__ import annotations

import re

import pandas as pd


# Without brackets of their own: budget_text puts a description in brackets (no nested （（））)
DATASET_DESCRIPTIONS: dict[str, str] = {
    "cifar100": "CIFAR-100 官方数据，100 类，5 万训练 / 1 万测试",
    "cifar10": "CIFAR-10 官方数据，10 类，5 万训练 / 1 万测试",
    "cifar10-jpeg": ("真实 CIFAR-10 图像的 JPEG 副本，质量约 75 的有损压缩，10 类；"
                     "准确率会略低于文献中官方 CIFAR-10 的数值"),
    "cifar100-generated": "按 CIFAR-100 官方格式生成的合成数据，仅供测试，数值无意义",
}


DATASET_SHORT_NAMES: dict[str, str] = {"cifar100": "CIFAR-100", "cifar10": "CIFAR-10",
                                       "cifar10-jpeg": "CIFAR-10 JPEG 副本"}


def dataset_description(tag: str) -> str:
    """A Chinese one-line description of a results data set tag."""
    return DATASET_DESCRIPTIONS.get(tag, f"图像文件夹数据集 {tag}")


def device_zh(device: str) -> str:
    """A record's device name for Chinese prose: ``"AMD EPYC (1 threads)"`` -> ``"AMD EPYC（1 线程）"``."""
    return re.sub(r" \((\d+) threads?\)$", r"（\1 线程）", device)


def budget_text(runs: pd.DataFrame) -> str:
    """The budget behind a group of runs, in Chinese: data set, images, epochs, seeds, device."""
    if runs.empty:
        return "（无运行记录）"
    datasets = ", ".join(sorted(runs["dataset"].unique()))
    parts = [f"数据集：{datasets}（{dataset_description(runs['dataset'].iloc[0])}）"]

    def span(column: str) -> str:
        values = sorted(runs[column].unique())
        return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"

    parts.append(f"训练图像 {span('train_images')} 张，测试图像 {span('test_images')} 张")
    parts.append(f"{span('epochs')} 轮，批大小 {span('batch_size')}")
    seeds = runs.groupby("model")["seed"].nunique()
    parts.append(f"每个模型 {seeds.min()}–{seeds.max()} 个随机种子" if seeds.min() != seeds.max()
                 else f"每个模型 {seeds.min()} 个随机种子")
    parts.append("设备：" + "；".join(device_zh(d) for d in sorted(runs["device"].unique())))
    return "；".join(parts) + "。"
