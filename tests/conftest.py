"""Shared fixtures: a generated data set in the official CIFAR-100 format; the book built once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
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


@pytest.fixture(autouse=True)
def no_network_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never fetch CIFAR: torchvision's download fails as it does offline (a test of the
    online path replaces it again with a fake, see tests/test_download.py)."""
    import urllib.error

    import torchvision.datasets.utils

    def offline(url: str, *args: object, **kwargs: object) -> None:
        raise urllib.error.URLError(f"network disabled in tests ({url})")

    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", offline)


REPO = Path(__file__).resolve().parent.parent


def copy_repo(dest: Path) -> Path:
    """Copy the tracked files (as a user's clone would have them) to ``dest``, links kept as links."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split("\0")
    for name in filter(None, files):
        src, dst = REPO / name, dest / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the work tree but not yet committed
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)
    return dest


@pytest.fixture(scope="session")
def book_build(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The book built as ``make pdf`` builds it, from a copy of the repository at another path:
    the PDF first (the LaTeX build executes every page), then the HTML from the same Sphinx
    environment (no second execution). Built once per test session whatever the xdist workers:
    the first worker that asks builds it under a file lock in the session's shared temporary
    folder, the others wait and read what it wrote (a failed build fails them all, once)."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()  # under xdist, popen-gwN/ in the session's folder
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    summary = shared / "book_build.json"
    with FileLock(str(shared / "book_build.lock")):
        if not summary.exists():
            summary.write_text(json.dumps(_build_book(shared / "book_clone" / "repo")))
    built = json.loads(summary.read_text())
    assert built["returncode"] == 0, f"{built['failed']} build failed:\n" + built["logs"][built["failed"]][-6000:]
    repo = Path(built["repo"])
    return {"repo": repo, "html": repo / "book" / "_build" / "html",
            "latex": repo / "book" / "_build" / "latex", "log": "\n".join(built["logs"].values()),
            "logs": built["logs"], "seconds": sum(built["seconds"].values()), "seconds_by_build": built["seconds"]}


def _build_book(dest: Path) -> dict:
    """Build the PDF then the HTML in a copy of the repository at ``dest``; what happened, as JSON."""
    repo = copy_repo(dest)
    jb = Path(sys.executable).with_name("jupyter-book")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo)}
    env.pop("CIFARLIB_OFFLINE_ZIP", None)  # a user's machine has no data: nothing may train
    built: dict = {"repo": str(repo), "logs": {}, "seconds": {}, "returncode": 0, "failed": None}
    for name, builder in (("pdf", ["--builder", "pdflatex"]), ("html", [])):
        start = time.perf_counter()
        proc = subprocess.run([str(jb), "build", "book/", *builder, "-W", "-n", "--keep-going"],
                              cwd=repo, capture_output=True, text=True, timeout=1800, env=env)
        built["seconds"][name] = time.perf_counter() - start
        built["logs"][name] = proc.stdout + proc.stderr
        if proc.returncode != 0:
            built.update(returncode=proc.returncode, failed=name)
            break
    return built
