"""What ``hubconf.py`` serves: one ``torch.hub`` entry point per registered model.

Each entry point builds the model (``num_classes``, the model's switches as keyword arguments)
and, given ``weights=PATH_OR_URL`` of a ``python -m cifarlib export`` file, loads them after
checking that model, switches and class count agree with the export's metadata.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from .models import create_model, list_models

NO_SHIPPED_WEIGHTS = (
    "cifarlib ships no trained weights: its study's checkpoints are not published. Train a run, "
    "export it (python -m cifarlib export RESULTS/.../RUN.json) and pass weights=PATH_OR_URL")


def _is_url(location: str) -> bool:
    return location.startswith(("http://", "https://", "file://"))


def meta_location(weights: str) -> str:
    """Where the metadata of an exported weights file lives: ``<run>.meta.json`` beside it."""
    stem = weights[: -len(".pth")] if weights.endswith(".pth") else weights
    return f"{stem}.meta.json"


def read_export(weights: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict and metadata of an export, from a path or a URL (downloaded with
    torch.hub's own helpers into its cache)."""
    location = str(weights)
    if _is_url(location):
        state = torch.hub.load_state_dict_from_url(location, map_location="cpu", weights_only=True)
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "meta.json"
            torch.hub.download_url_to_file(meta_location(location), str(target), progress=False)
            meta = json.loads(target.read_text())
        return state, meta
    path = Path(location).expanduser()
    meta_path = Path(meta_location(str(path)))
    if not path.exists() or not meta_path.exists():
        raise FileNotFoundError(f"exported weights need {path} and {meta_path} (python -m cifarlib export writes both)")
    return torch.load(path, map_location="cpu", weights_only=True), json.loads(meta_path.read_text())


def build(name: str, pretrained: bool = False, weights: str | os.PathLike | None = None,
          num_classes: int | None = None, **kwargs: Any) -> torch.nn.Module:
    """``name`` with ``num_classes`` (default: the export's, else 100) and switches ``kwargs``;
    with ``weights``, the exported weights loaded and ``model.cifarlib_weights`` set."""
    if weights is None:
        if pretrained:
            raise ValueError(NO_SHIPPED_WEIGHTS)
        return create_model(name, num_classes=100 if num_classes is None else num_classes, **kwargs)
    state, meta = read_export(weights)
    switches = {**meta.get("model_kwargs", {}), **kwargs}
    problems = []
    if meta["model"] != name:
        problems.append(f"the weights are {meta['model']}'s, not {name}'s")
    if num_classes is not None and num_classes != meta["num_classes"]:
        problems.append(f"they have {meta['num_classes']} classes, not num_classes={num_classes}")
    if switches != meta.get("model_kwargs", {}):
        problems.append(f"they were trained with switches {meta.get('model_kwargs', {})}, not {switches}")
    if problems:
        raise ValueError(f"cannot load {weights}: {'; '.join(problems)}")
    model = create_model(name, num_classes=meta["num_classes"], **switches)
    model.load_state_dict(state)
    model.cifarlib_weights = meta  # type: ignore[attr-defined]
    return model


def entry_point(name: str) -> Callable[..., torch.nn.Module]:
    def load(pretrained: bool = False, weights: str | os.PathLike | None = None,
             num_classes: int | None = None, **kwargs: Any) -> torch.nn.Module:
        return build(name, pretrained=pretrained, weights=weights, num_classes=num_classes, **kwargs)

    load.__name__ = name
    load.__doc__ = (f"{name} from cifarlib (num_classes=100 unless given); weights=PATH_OR_URL loads "
                    "weights written by `python -m cifarlib export`, whose data set is in "
                    "model.cifarlib_weights['trained_on']. No weights ship with the repository.")
    return load


def entry_points() -> dict[str, Callable[..., torch.nn.Module]]:
    """One entry point per registered model name."""
    return {name: entry_point(name) for name in list_models()}
