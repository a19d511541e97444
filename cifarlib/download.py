"""Fetching CIFAR-10/100 when it is missing: the ``download`` parameter.

``download`` is ``"auto"`` (the default), ``True`` or ``False``:

* the data is present under ``data_root``: nothing is fetched, whatever the value;
* missing and ``"auto"`` or ``True``: torchvision's own download (``download_and_extract_archive``
  with the archive's published md5) fetches it into a private folder under ``data_root``, which is
  renamed into place once complete, so a reader never sees half an extracted set;
* missing and the download fails (no network) or ``download`` is ``False``:
  :class:`~cifarlib.data.DataNotFoundError` naming where we looked and the ways to get the data.

``"auto"`` and ``True`` differ only in the message of a failed download. The value never changes
what a run computes (``download`` is outside the record's identity, :data:`cifarlib.runner.NOT_IDENTITY`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Union

import torchvision

DownloadMode = Union[bool, str]
DOWNLOAD_MODES: tuple[DownloadMode, ...] = (True, False, "auto")


def check_download_mode(value: object) -> None:
    """``ValueError`` naming the parameter unless ``value`` is true, false or ``"auto"``."""
    if not any(value is mode or (isinstance(value, str) and value == mode) for mode in DOWNLOAD_MODES):
        raise ValueError(f"bad value for download: {value!r}; allowed: true, false or 'auto' "
                         "(fetch CIFAR into data_root when it is missing and the network allows)")


def _torchvision_class(kind: str) -> type:
    return torchvision.datasets.CIFAR100 if kind == "cifar100" else torchvision.datasets.CIFAR10


def fetch_cifar(kind: str, root: Path) -> Path:
    """Download and extract CIFAR ``kind`` into ``root`` with torchvision (md5-checked archive);
    returns the data folder. Raises whatever the download raises (``URLError``, ``OSError``,
    ``RuntimeError`` for a bad checksum); nothing half-made is left at the final path."""
    from .data import cifar_folder

    cls = _torchvision_class(kind)
    target = cifar_folder(root, kind)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".download-{kind}.tmp{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        # Looked up at call time: tests replace it with a fake that writes generated files.
        torchvision.datasets.utils.download_and_extract_archive(
            cls.url, str(staging), filename=cls.filename, md5=cls.tgz_md5, remove_finished=True)
        extracted = cifar_folder(staging, kind)
        if not extracted.is_dir():
            raise RuntimeError(f"the downloaded archive has no folder {extracted.name!r}")
        if not target.exists():  # another process may have finished first
            os.replace(extracted, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def ensure_cifar(kind: str, root: str | os.PathLike, download: DownloadMode, log=print) -> None:
    """Make CIFAR ``kind`` present under ``root``: fetch it when missing and ``download`` allows,
    else raise :class:`~cifarlib.data.DataNotFoundError` with the ways to get it (no traceback
    is needed to act on it)."""
    from .data import DataNotFoundError, cifar_folder, missing_cifar_message

    check_download_mode(download)
    root = Path(root)
    folder = cifar_folder(root, kind)
    if folder.exists():
        return
    if download is False:
        raise DataNotFoundError(missing_cifar_message(kind, folder, "download is off (-p download false)"))
    log(f"{kind} not found under {root.resolve()}: downloading it with torchvision ...")
    try:
        fetch_cifar(kind, root)
    except Exception as err:  # no network, a proxy's error page, a bad checksum
        why = f"the download failed ({type(err).__name__}: {err})"
        if download == "auto":
            why += "; download 'auto' fetches only where the network allows"
        raise DataNotFoundError(missing_cifar_message(kind, folder, why)) from None
    log(f"{kind} downloaded to {folder.resolve()}")
