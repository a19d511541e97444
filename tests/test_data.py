"""Data loading (official-format files, folders, zips), subsets and batched augmentation."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cifarlib.data import (
    CIFAR100_CLASSES, BatchLoader, DataNotFoundError, load_dataset, load_image_folder,
    normalize, offline_dataset_spec, offline_zip, random_crop_flip, write_generated_cifar100,
)
from cifarlib.paths import REPO_ROOT


def test_generated_files_follow_the_official_format(generated_root: Path) -> None:
    folder = generated_root / "cifar-100-python"
    with open(folder / "train", "rb") as f:
        train = pickle.load(f, encoding="latin1")
    with open(folder / "meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    assert train["data"].shape == (1000, 3072) and train["data"].dtype == np.uint8
    assert len(train["fine_labels"]) == len(train["coarse_labels"]) == 1000
    assert meta["fine_label_names"] == list(CIFAR100_CLASSES)
    assert len(meta["coarse_label_names"]) == 20


def test_torchvision_loads_generated_cifar100(generated_root: Path) -> None:
    data = load_dataset("cifar100", generated_root)
    assert data.name == "cifar100-generated"
    assert data.train_x.shape == (1000, 3, 32, 32) and data.train_x.dtype == torch.uint8
    assert data.test_x.shape == (400, 3, 32, 32)
    assert data.train_y.dtype == torch.int64
    assert data.train_y.bincount().tolist() == [10] * 100
    assert data.classes[:2] == ["apple", "aquarium_fish"]
    # The pickled rows are R, G, B planes: pixel (0, 0) of image 0 matches the raw bytes.
    with open(generated_root / "cifar-100-python" / "train", "rb") as f:
        raw = pickle.load(f, encoding="latin1")["data"][0]
    assert data.train_x[0, :, 0, 0].tolist() == [raw[0], raw[1024], raw[2048]]


def test_real_cifar_files_are_checksummed(tmp_path: Path) -> None:
    """Without the generated marker, torchvision's md5 check applies: forged files are refused."""
    write_generated_cifar100(tmp_path, 2, 1)
    (tmp_path / "cifar-100-python" / "GENERATED.json").unlink()
    with pytest.raises(DataNotFoundError, match="download"):
        load_dataset("cifar100", tmp_path)


def test_missing_dataset_says_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("cifar100", tmp_path / "nowhere")
    message = str(err.value)
    assert str((tmp_path / "nowhere").resolve()) in message
    assert "download" in message and "cifar10-jpeg.zip" in message
    with pytest.raises(DataNotFoundError, match="not found"):
        load_dataset(f"folder:{tmp_path / 'missing.zip'}")
    with pytest.raises(ValueError, match="cifar100"):
        load_dataset("imagenet")


def _write_folder(root: Path, sizes: dict[str, int], classes=("cat", "dog", "emu")) -> dict:
    """Images whose red channel encodes (class index, image index) for checking labels."""
    rng = np.random.default_rng(0)
    expected = {}
    for split, n in sizes.items():
        for ci, cls in enumerate(classes):
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = rng.integers(0, 255, size=(32, 32, 3), dtype=np.uint8)
                img[0, 0] = (ci * 40, i, 7)
                Image.fromarray(img).save(root / split / cls / f"{i:03d}.png")
                expected[(split, cls, i)] = img
    return expected


def test_image_folder_and_zip_give_identical_tensors(tmp_path: Path) -> None:
    src = tmp_path / "imgs" / "top"
    expected = _write_folder(src, {"train": 4, "test": 2})
    zpath = tmp_path / "imgs.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in sorted(src.rglob("*.png")):
            z.write(p, p.relative_to(tmp_path / "imgs"))
    from_dir = load_image_folder(src, cache_dir=tmp_path / "cache")
    from_zip = load_image_folder(zpath, cache_dir=tmp_path / "cache")
    assert from_dir.classes == from_zip.classes == ["cat", "dog", "emu"]
    for a, b in ((from_dir.train_x, from_zip.train_x), (from_dir.test_y, from_zip.test_y)):
        assert torch.equal(a, b)
    assert from_dir.train_x.shape == (12, 3, 32, 32) and from_dir.test_x.shape == (6, 3, 32, 32)
    # PNG is lossless: the marker pixel gives back class and index, so labels match the folders.
    for img, label in zip(from_zip.train_x, from_zip.train_y):
        assert img[0, 0, 0].item() == 40 * label.item()
    first = expected[("train", "cat", 0)]
    assert torch.equal(from_zip.train_x[0], torch.from_numpy(first).permute(2, 0, 1))


def test_folder_is_decoded_once_then_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_folder(tmp_path / "d", {"train": 2, "test": 1})
    cache = tmp_path / "cache"
    load_image_folder(tmp_path / "d", cache_dir=cache)
    assert len(list(cache.glob("*.pt"))) == 1
    import cifarlib.data as data_module

    monkeypatch.setattr(data_module, "_decode_folder", lambda path: pytest.fail("decoded twice"))
    again = load_image_folder(tmp_path / "d", cache_dir=cache)
    assert again.train_x.shape[0] == 6


def test_offline_zip_is_next_to_the_repository_unless_the_environment_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIFARLIB_OFFLINE_ZIP", raising=False)
    assert offline_zip() == REPO_ROOT.parent / "shared" / "data" / "cifar10-jpeg.zip"
    monkeypatch.setenv("CIFARLIB_OFFLINE_ZIP", str(tmp_path / "jpegs.zip"))
    assert offline_zip() == tmp_path / "jpegs.zip"
    assert offline_dataset_spec() == f"folder:{tmp_path / 'jpegs.zip'}"


def test_folder_without_test_split_is_rejected(tmp_path: Path) -> None:
    _write_folder(tmp_path / "d", {"train": 1})
    with pytest.raises(DataNotFoundError, match="test/<class>"):
        load_image_folder(tmp_path / "d", cache_dir=tmp_path / "cache")


def test_balanced_subset(generated_root: Path) -> None:
    data = load_dataset("cifar100", generated_root).subset(train=500, test=200, seed=3)
    assert data.train_y.bincount().tolist() == [5] * 100
    assert data.test_y.bincount().tolist() == [2] * 100
    again = load_dataset("cifar100", generated_root).subset(train=500, test=200, seed=3)
    assert torch.equal(data.train_x, again.train_x)


# ----------------------------------------------------------------------------- augmentation


def test_crop_flip_shapes_and_dtype() -> None:
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    out = random_crop_flip(x, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8


def test_crops_stay_inside_the_padded_image() -> None:
    """Every output equals some 32x32 window of the zero-padded input, possibly flipped."""
    g = torch.Generator().manual_seed(1)
    x = torch.randint(1, 256, (64, 3, 32, 32), dtype=torch.uint8)  # no zeros inside images
    out = random_crop_flip(x, padding=4, generator=g)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    offsets = set()
    for i in range(len(x)):
        found = [(dy, dx, f) for dy in range(9) for dx in range(9) for f in (False, True)
                 if torch.equal(out[i], (lambda w: w.flip(2) if f else w)(padded[i, :, dy:dy + 32, dx:dx + 32]))]
        assert found, f"image {i} is not a window of the padded input"
        offsets.add(found[0][:2])
    assert len(offsets) > 10  # offsets really vary


def test_flips_really_flip() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.arange(32, dtype=torch.uint8).view(1, 1, 1, 32).expand(200, 3, 32, 32).contiguous()
    out = random_crop_flip(x, padding=0, flip=True, generator=g)
    flipped = (out[:, 0, 0, 0] == 31)
    unflipped = (out[:, 0, 0, 0] == 0)
    assert (flipped | unflipped).all()
    assert torch.equal(out[flipped], x[flipped].flip(3))
    assert 60 < flipped.sum().item() < 140  # about half


def test_no_padding_no_flip_is_identity() -> None:
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    assert torch.equal(random_crop_flip(x, padding=0, flip=False), x)


def test_normalize() -> None:
    x = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = normalize(x, (0.5, 0.5, 0.5), (0.25, 0.5, 1.0))
    assert out.dtype == torch.float32
    assert torch.allclose(out[:, 0], torch.tensor(2.0)) and torch.allclose(out[:, 2], torch.tensor(0.5))


def test_batch_loader_epochs_are_reproducible_and_differ() -> None:
    x = torch.randint(0, 256, (50, 3, 32, 32), dtype=torch.uint8)
    y = torch.arange(50)
    loader = BatchLoader(x, y, 16, (0.5,) * 3, (0.5,) * 3, train=True, seed=0)
    assert len(loader) == 3  # drop_last in training
    first = [yb.clone() for _, yb in loader]
    again = [yb.clone() for _, yb in loader]
    loader.set_epoch(1)
    other = [yb.clone() for _, yb in loader]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    test_loader = BatchLoader(x, y, 16, (0.5,) * 3, (0.5,) * 3, channels_last=True)
    batches = list(test_loader)
    assert len(batches) == 4 and torch.equal(torch.cat([b for _, b in batches]), y)
    assert batches[0][0].is_contiguous(memory_format=torch.channels_last)


def test_loader_hoisted_work_gives_the_batches_of_the_per_batch_recipe() -> None:
    """Padding once, mean/std built once and the test set normalised once change nothing: the
    batches equal crop+flip+normalise done per batch with the same generator draws."""
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.arange(40)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    loader = BatchLoader(x, y, 16, mean, std, train=True, seed=3)
    loader.set_epoch(2)
    draws = torch.Generator().manual_seed(3 * 100_003 + 2)
    order = torch.randperm(40, generator=draws)
    for i, (xb, yb) in enumerate(loader):
        index = order[i * 16:(i + 1) * 16]
        assert torch.equal(yb, y[index])
        assert torch.equal(xb, normalize(random_crop_flip(x[index], generator=draws), mean, std))
    test_batches = [xb for xb, _ in BatchLoader(x, y, 16, mean, std)]
    assert torch.equal(torch.cat(test_batches), normalize(x, mean, std))
