"""The archived run pages (book/runs/): a run's summary and per-class extremes in Chinese, from its
record. ``notebooks/train.ipynb`` calls these for new runs (tools/make_train_notebook.py); the
book's ``_ext/run_pages.py`` shows the committed executed notebooks through the same functions at
build time, so old and new run pages look alike without rewriting what the old ones recorded."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .budget_line import DATASET_SHORT_NAMES, device_zh
from .per_class_accuracy import chinese_class

INTRO = ("本页是 `notebooks/train.ipynb` 为这次运行执行后的副本：它通过 `cifarlib` 训练一个模型，"
         "把运行记录（JSON）写入 `results/`，并展示下面的摘要、训练曲线和最好与最差的类别。"
         "用 papermill 执行（例如 `papermill notebooks/train.ipynb out.ipynb -p model eca_resnet20 -p epochs 1`）"
         "或用 `python -m cifarlib train` 运行，后者会把执行后的副本存到 `book/runs/` 下。")


def run_summary(record: dict[str, Any]) -> pd.DataFrame:
    """The run's summary as a vertical key/value table (项目, 数值), rounded, in Chinese."""
    final, data, config = record["final"], record["data"], record["config"]
    dataset = record["dataset"]
    rows = [
        ("模型", config["model"]), ("变体", record["variant"]),
        ("数据集", DATASET_SHORT_NAMES.get(dataset, dataset)),
        ("训练图像", f"{int(data['train_images'])} 张"), ("测试图像", f"{int(data['test_images'])} 张"),
        ("轮数", str(int(config["epochs"]))), ("随机种子", str(int(config["seed"]))),
        ("测试集 top-1", f"{final['test_top1']:.2f}%"), ("测试集 top-5", f"{final['test_top5']:.2f}%"),
        *([("验证集 top-1", f"{record['val']['top1']:.2f}%（从训练集留出的 {int(record['val']['images'])} 张）")]
          if record.get("val") else []),
        ("参数量", f"{record['model_info']['params'] / 1e6:.3f} 百万"),
        ("前向计算量", f"{record['model_info']['flops'] / 1e9:.3f} GFLOPs"),
        ("训练吞吐", f"{record['throughput']['train_images_per_s']:.0f} 图/秒"),
        ("用时", f"{record['wall_time_s'] / 60:.1f} 分钟"),
        ("设备", device_zh(str(record["provenance"]["device"]))),
    ]
    return pd.DataFrame(rows, columns=["项目", "数值"])


def per_class_extremes(record: dict[str, Any], n: int = 5) -> pd.DataFrame:
    """The ``n`` worst and ``n`` best classes of the run (Chinese names), test accuracy rounded."""
    accuracy = pd.Series(record["per_class_accuracy"], dtype=float).sort_values()
    shown = accuracy if len(accuracy) <= 2 * n else pd.concat([accuracy.head(n), accuracy.tail(n)])
    return pd.DataFrame({"类别": [chinese_class(c) for c in shown.index],
                         "测试准确率（%）": [f"{v:.1f}" for v in shown.values]})


def styled(table: pd.DataFrame):
    """A run page table ready to show: no index, every column left-aligned."""
    return table.style.hide(axis="index").set_properties(**{"text-align": "left"}).set_table_styles(
        [{"selector": "th", "props": [("text-align", "left")]}])

