"""Per-class accuracy from the records' confusion matrices: per class and model, summed over seeds,
the most confused pairs, Chinese class names."""

from __future__ import annotations

import pandas as pd


CIFAR10_CHINESE = {"airplane": "飞机", "automobile": "汽车", "bird": "鸟", "cat": "猫", "deer": "鹿",
                   "dog": "狗", "frog": "青蛙", "horse": "马", "ship": "船", "truck": "卡车"}


def class_accuracy(confusion: "np.ndarray") -> "np.ndarray":
    """Per-class accuracy (%) from a confusion matrix (rows: true class)."""
    import numpy as np

    confusion = np.asarray(confusion, dtype=float)
    totals = confusion.sum(axis=1)
    return 100 * np.divide(np.diag(confusion), totals, out=np.full(len(totals), np.nan), where=totals > 0)


def class_support(details: list[dict], experiments: "set[str] | None" = None) -> list[int]:
    """The distinct numbers of test images per class (the confusion matrices' row sums) over the
    records of ``experiments`` (all when ``None``) that carry a confusion matrix, sorted; a
    balanced test set gives one value (CIFAR-10's 1000)."""
    import numpy as np

    counts: set[int] = set()
    for d in details:
        if (experiments is None or d["experiment"] in experiments) and d.get("confusion") is not None:
            counts.update(int(n) for n in np.asarray(d["confusion"]).sum(axis=1))
    return sorted(counts)


def per_class_means(details: list[dict], experiment: str = "main", variant: str = "default") -> pd.DataFrame:
    """Per-class accuracy from the confusion matrices, averaged over seeds: rows = classes,
    columns = models (in order of first appearance), plus the seed counts in ``attrs['seeds']``."""
    acc: dict[str, list] = {}
    classes: list[str] | None = None
    for d in details:
        if d["experiment"] != experiment or d["variant"] != variant or d.get("confusion") is None:
            continue
        classes = classes or list(d["classes"])
        if list(d["classes"]) != classes:
            continue
        acc.setdefault(d["model"], []).append(class_accuracy(d["confusion"]))
    if classes is None:
        return pd.DataFrame()
    import numpy as np

    table = pd.DataFrame({m: np.mean(v, axis=0) for m, v in acc.items()}, index=classes)
    table.attrs["seeds"] = {m: len(v) for m, v in acc.items()}
    return table


def summed_confusion(details: list[dict], experiment: str, model: str,
                     variant: str = "default") -> tuple["np.ndarray | None", list[str], int]:
    """The confusion matrices of one model summed over its seeds: (matrix, classes, seeds)."""
    mats = [d for d in details if d["experiment"] == experiment and d["model"] == model
            and d["variant"] == variant and d.get("confusion") is not None]
    if not mats:
        return None, [], 0
    return sum(d["confusion"] for d in mats), list(mats[0]["classes"]), len(mats)


def confused_pairs(confusion: "np.ndarray", classes: list[str], top: int = 5) -> pd.DataFrame:
    """The class pairs most often mistaken for each other (both directions added), most first.

    Columns: ``a``, ``b``, ``a_as_b`` (true a predicted b), ``b_as_a``, ``total`` and ``share``
    (the total as a percentage of the two classes' test images).
    """
    import numpy as np

    c = np.asarray(confusion)
    totals = c.sum(axis=1)
    rows = []
    for i in range(len(classes)):
        for j in range(i + 1, len(classes)):
            both = int(c[i, j] + c[j, i])
            rows.append({"a": classes[i], "b": classes[j], "a_as_b": int(c[i, j]), "b_as_a": int(c[j, i]),
                         "total": both, "share": 100 * both / (totals[i] + totals[j]) if totals[i] + totals[j] else np.nan})
    table = pd.DataFrame(rows, columns=["a", "b", "a_as_b", "b_as_a", "total", "share"])
    return table.sort_values(["total", "a", "b"], ascending=[False, True, True], ignore_index=True).head(top)


def chinese_class(name: str) -> str:
    """The Chinese name of a CIFAR-10 class (other names are returned unchanged)."""
    return CIFAR10_CHINESE.get(name, name)
