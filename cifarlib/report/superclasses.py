"""CIFAR-100's 20 superclasses in the per-class chapter: Chinese names, the fine -> coarse map,
confusion summed into superclass blocks and per-superclass accuracy."""

from __future__ import annotations

import pandas as pd

from ..data import CIFAR100_SUPERCLASSES


# CIFAR-100's 20 superclasses and their five classes each: cifarlib.data.CIFAR100_SUPERCLASSES.
CIFAR100_SUPERCLASS_CHINESE = {
    "aquatic_mammals": "水生哺乳动物", "fish": "鱼", "flowers": "花", "food_containers": "食品容器",
    "fruit_and_vegetables": "水果与蔬菜", "household_electrical_devices": "家用电器",
    "household_furniture": "家具", "insects": "昆虫", "large_carnivores": "大型食肉动物",
    "large_man-made_outdoor_things": "大型人造户外物体", "large_natural_outdoor_scenes": "大型自然户外场景",
    "large_omnivores_and_herbivores": "大型杂食与食草动物", "medium_mammals": "中型哺乳动物",
    "non-insect_invertebrates": "非昆虫无脊椎动物", "people": "人", "reptiles": "爬行动物",
    "small_mammals": "小型哺乳动物", "trees": "树", "vehicles_1": "车辆 1", "vehicles_2": "车辆 2",
}


def cifar100_fine_to_coarse() -> dict[str, str]:
    """Each of the 100 CIFAR-100 class names -> its superclass name."""
    return {fine: coarse for coarse, fines in CIFAR100_SUPERCLASSES.items() for fine in fines}


def cifar100_coarse_indices() -> list[int]:
    """Coarse label index of each fine label index (both in the data set's alphabetical order)."""
    coarse_names = sorted(CIFAR100_SUPERCLASSES)
    mapping = cifar100_fine_to_coarse()
    return [coarse_names.index(mapping[fine]) for fine in sorted(mapping)]


def superclass_confusion(confusion: "np.ndarray", classes: list[str],
                         fine_to_coarse: dict[str, str] | None = None) -> tuple["np.ndarray", list[str]]:
    """Sum a fine-class confusion matrix (rows: true, columns: predicted) into superclass blocks.

    Returns the (superclass x superclass) matrix and the superclass names in order of first
    appearance among ``classes``. Its diagonal counts predictions in the right superclass (even
    when the fine class is wrong).
    """
    import numpy as np

    mapping = cifar100_fine_to_coarse() if fine_to_coarse is None else fine_to_coarse
    confusion = np.asarray(confusion)
    if confusion.shape != (len(classes), len(classes)):
        raise ValueError(f"confusion is {confusion.shape}, but {len(classes)} classes were given")
    unknown = [c for c in classes if c not in mapping]
    if unknown:
        raise KeyError(f"no superclass for {unknown[:5]}")
    coarse = list(dict.fromkeys(mapping[c] for c in classes))
    index = np.array([coarse.index(mapping[c]) for c in classes])
    onehot = np.zeros((len(classes), len(coarse)), dtype=confusion.dtype)
    onehot[np.arange(len(classes)), index] = 1
    return onehot.T @ confusion @ onehot, coarse


def superclass_table(confusion: "np.ndarray", classes: list[str],
                     fine_to_coarse: dict[str, str] | None = None) -> pd.DataFrame:
    """Per superclass: fine-class accuracy, superclass accuracy (any class of the right superclass)
    and the share of errors that stay inside the superclass, in percent."""
    import numpy as np

    mapping = cifar100_fine_to_coarse() if fine_to_coarse is None else fine_to_coarse
    confusion = np.asarray(confusion)
    coarse_matrix, coarse = superclass_confusion(confusion, classes, mapping)
    rows = []
    for k, name in enumerate(coarse):
        members = [i for i, c in enumerate(classes) if mapping[c] == name]
        total = confusion[members].sum()
        right_fine = confusion[members, members].sum()
        right_coarse = coarse_matrix[k, k]
        errors = total - right_fine
        rows.append({"superclass": name, "images": int(total),
                     "fine_accuracy": 100 * right_fine / total if total else np.nan,
                     "coarse_accuracy": 100 * right_coarse / total if total else np.nan,
                     "errors_within": 100 * (right_coarse - right_fine) / errors if errors else np.nan})
    return pd.DataFrame(rows)
