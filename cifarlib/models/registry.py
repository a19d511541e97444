"""Model registry: ``create_model(name)`` and ``list_models()``.

Two kinds of entries, following timm's habit of one decorator per builder:

* fixed models (``resnet20``, ``convnext_tiny``) registered with :func:`register_model`;
* graft families registered with :func:`register_graft`: a name template such as
  ``"eca_resnet{depth}"`` whose builder takes the backbone depth, so that any CIFAR depth
  ``6n+2`` works (``eca_resnet20``, ``eca_resnet56``, ``eca_resnet110``). Only the depth-20
  member is listed by :func:`list_models`; the others are created on demand;
* iso-parameter grafts (family ``"iso"``, :mod:`.iso`): ``<graft>_iso`` is the depth-20 graft at
  the width multiplier that brings its parameters within +-5 % of resnet20's.

Names are unambiguous: registering a fixed model whose name a graft template also matches is an
error unless the graft template *reserves* that depth (``eca_resnet{depth}`` reserves 50 for the
full-size ECA-ResNet-50, so the depth-50 ECA graft has no name; use depth 44 or 56).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import torch.nn as nn

ModelBuilder = Callable[..., nn.Module]

FAMILIES = ("backbone", "graft", "iso", "full")


@dataclass(frozen=True)
class ModelEntry:
    """Registry metadata for one listed model."""

    name: str
    family: str  # "backbone", "graft", "iso" or "full"
    method: str  # e.g. "ECA-Net"; "ResNet" for the backbone
    builder: ModelBuilder
    depth: int | None = None  # backbone depth for grafts, None otherwise


_MODELS: dict[str, ModelEntry] = {}
_GRAFTS: dict[str, tuple[re.Pattern[str], str, ModelBuilder]] = {}
_RESERVED: dict[str, tuple[int, ...]] = {}  # template -> depths owned by another model


def _graft_clash(name: str) -> str | None:
    """The graft template that also matches ``name`` at a depth it does not reserve, if any."""
    for template, (pattern, _, _) in _GRAFTS.items():
        match = pattern.match(name)
        if match and int(match.group(1)) not in _RESERVED[template]:
            return template
    return None
LISTED_GRAFT_DEPTH = 20


def register_model(name: str, family: str, method: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator registering ``builder(num_classes=..., **kw)`` under ``name``."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        clash = _graft_clash(name)
        if clash is not None:
            raise ValueError(
                f"model name {name!r} is also matched by the graft template {clash!r}: rename it, "
                f"or reserve that depth in the graft's register_graft(..., reserved_depths=...)"
            )
        _MODELS[name] = ModelEntry(name, family, method, builder)
        return builder

    return decorate


def register_graft(
    template: str, method: str, reserved_depths: tuple[int, ...] = ()
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator registering ``builder(depth, num_classes=..., **kw)`` for every CIFAR depth.

    ``template`` must contain ``{depth}``, e.g. ``"eca_resnet{depth}"``; the depth-20 member is
    listed, any other depth ``6n+2`` can be created by name, except ``reserved_depths``, whose
    names belong to another (full-size) model.
    """
    if "{depth}" not in template:
        raise ValueError(f"graft template {template!r} needs a '{{depth}}' field")
    pattern = re.compile("^" + re.escape(template).replace(r"\{depth\}", r"(\d+)") + "$")

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        taken = [n for n in _MODELS if pattern.match(n) and int(pattern.match(n).group(1)) not in reserved_depths]
        if taken:
            raise ValueError(f"graft template {template!r} matches the registered model(s) {taken}")
        _GRAFTS[template] = (pattern, method, builder)
        _RESERVED[template] = tuple(reserved_depths)
        name = template.format(depth=LISTED_GRAFT_DEPTH)
        _MODELS[name] = ModelEntry(
            name, "graft", method,
            lambda **kw: builder(LISTED_GRAFT_DEPTH, **kw), LISTED_GRAFT_DEPTH,
        )
        return builder

    return decorate


def _ensure_loaded() -> None:
    # Importing the package registers every model (each method module registers itself).
    import cifarlib.models  # noqa: F401


def is_registered(name: str) -> bool:
    """True when ``name`` is a listed model (no package import is triggered)."""
    return name in _MODELS


def list_models(family: str | None = None) -> list[str]:
    """Names of the listed models, optionally of one family ("backbone", "graft", "full")."""
    _ensure_loaded()
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    names = [n for n, e in _MODELS.items() if family is None or e.family == family]
    return sorted(names, key=lambda n: FAMILIES.index(_MODELS[n].family))  # stable within a family


def model_entry(name: str) -> ModelEntry:
    """Registry metadata for ``name`` (grafts at any depth included)."""
    _ensure_loaded()
    if name in _MODELS:
        return _MODELS[name]
    for template, (pattern, method, builder) in _GRAFTS.items():
        match = pattern.match(name)
        if match and int(match.group(1)) in _RESERVED[template]:
            raise KeyError(f"{name!r} is not the {method} graft: that name is reserved")
        if match:
            depth = int(match.group(1))
            return ModelEntry(name, "graft", method, lambda **kw: builder(depth, **kw), depth)
    raise KeyError(
        f"unknown model {name!r}. Valid names: {', '.join(sorted(_MODELS))}; "
        f"grafts also accept any depth 6n+2 (e.g. "
        f"{', '.join(t.format(depth=56) for t in list(_GRAFTS)[:2])})."
    )


def create_model(name: str, num_classes: int = 100, **kwargs: Any) -> nn.Module:
    """Build a registered model from scratch (no pretrained weights exist here).

    Extra keyword arguments are the model's ablation switches (see each builder's docstring).
    Raises ``KeyError`` listing valid names for an unknown model, and ``TypeError`` naming the
    accepted switches for an unknown keyword.
    """
    entry = model_entry(name)
    try:
        return entry.builder(num_classes=num_classes, **kwargs)
    except TypeError as err:
        if "unexpected keyword argument" in str(err):
            raise TypeError(f"model {name!r} got an unknown switch: {err}") from err
        raise
