"""Shared fixtures: a generated data set in the official CIFAR-100 format."""

from __future__ import annotations

import os
from pathlib import Path

# One thread per test process (pytest-xdist runs one process per core): on a loaded 2-core
# machine, two OpenMP threads per process wait on each other and run many times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from cifarlib.data import write_generated_cifar100  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def no_timed_policy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may depend on a timing: a test that trains with ``amp`` or ``channels_last`` left
    on ``auto`` would let the autotune's stopwatch pick its numerics (NCHW reached 100 % on the
    tiny set where channels_last reached 75 %). Such a test fails here, naming the fix; tests of
    the autotune itself are marked ``times_policy``."""
    if request.node.get_closest_marker("times_policy"):
        return
    from cifarlib import autotune

    def refuse(*args, **kwargs):
        raise AssertionError("this test reached the timed autotune: pin amp and channels_last "
                             "(e.g. amp='off', channels_last='off') so that no outcome depends on a timing")

    monkeypatch.setattr(autotune, "time_candidate", refuse)


@pytest.fixture(scope="session")
def generated_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root folder holding ``cifar-100-python/`` with 10 train / 4 test images per class."""
    root = tmp_path_factory.mktemp("cifar")
    write_generated_cifar100(root, train_per_class=10, test_per_class=4, seed=0)
    return root
