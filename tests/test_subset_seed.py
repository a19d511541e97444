"""Issue 8 item 6: the test subset does not depend on the training seed."""

from __future__ import annotations

from pathlib import Path

import torch

from cifarlib.data import load_dataset


def test_test_subset_is_the_same_for_every_seed(generated_root: Path) -> None:
    data = load_dataset("cifar100", generated_root)
    a, b = data.subset(train=300, test=200, seed=0), data.subset(train=300, test=200, seed=7)
    assert torch.equal(a.test_x, b.test_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, b.train_x)  # the training subset still follows the seed
