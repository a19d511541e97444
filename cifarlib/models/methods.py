"""The method table: the one list of the study's methods.

Each :class:`Method` names the model file that implements it, its paper (the BibTeX key in
``book/references.bib``), its graft template, the width multiplier of its iso-parameter version,
its full-size network and its page in the book. Everything that enumerates the methods derives
from :data:`METHODS`: the registry imports (:mod:`cifarlib.models`), the iso-parameter grafts
(:mod:`.iso`), the plan selectors ``grafts``, ``iso`` and ``full`` (:mod:`cifarlib.sweep`), the
tests and the book's method pages. The order is the design table's (ConvNeXt ... MLP-Mixer), which
is also the listing order within each registry family.

Adding a method: write ``cifarlib/models/<module>.py`` (it registers its graft template and, if
any, its full-size network), add its page under ``book/methods/`` and one :class:`Method` here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Sequence

GRAFT_DEPTH = 20
"""The depth of the listed graft of each template (``eca_resnet{depth}`` -> ``eca_resnet20``)."""


@dataclass(frozen=True)
class Method:
    """One method of the study, as the design table lists it."""

    name: str  # the registry's ``method`` label, e.g. "ECA-Net"
    module: str  # the model file as a module, e.g. "cifarlib.models.eca" (cifarlib/models/eca.py)
    paper: str  # BibTeX key in book/references.bib
    graft_template: str  # e.g. "eca_resnet{depth}"
    iso_width: float  # width multiplier of <graft>_iso (models/iso.py's grid search, stored)
    full: str | None  # the full-size 32x32 network's registry name; None when there is none
    page: str  # the book page, relative to book/ without suffix, e.g. "methods/eca"
    iso_fixed: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # switches fixed in the iso version (CoAtNet: heads=2, its head size must divide the widths)

    @property
    def graft(self) -> str:
        """The listed graft's registry name (depth 20)."""
        return self.graft_template.format(depth=GRAFT_DEPTH)

    @property
    def iso(self) -> str:
        """The iso-parameter graft's registry name."""
        return f"{self.graft}_iso"


METHODS: tuple[Method, ...] = (
    Method("ConvNeXt", "cifarlib.models.convnext", "liu2022convnext", "convnext_resnet{depth}", 1.32, "convnext_tiny",
           "methods/convnext"),
    Method("SegNeXt", "cifarlib.models.segnext", "guo2022segnext", "msca_resnet{depth}", 0.92, "segnext_mscan_t",
           "methods/segnext"),
    Method("LSKNet", "cifarlib.models.lsknet", "li2023lsknet", "lsk_resnet{depth}", 0.92, "lsknet_t", "methods/lsknet"),
    Method("CoAtNet", "cifarlib.models.coatnet", "dai2021coatnet", "coat_resnet{depth}", 1.16, "coatnet_0", "methods/coatnet",
           iso_fixed=MappingProxyType({"heads": 2})),
    Method("ECA-Net", "cifarlib.models.eca", "wang2020eca", "eca_resnet{depth}", 1.0, "eca_resnet50", "methods/eca"),
    Method("CSPNet", "cifarlib.models.cspnet", "wang2020cspnet", "csp_resnet{depth}", 1.64, "cspresnet50", "methods/cspnet"),
    Method("GhostNet", "cifarlib.models.ghostnet", "han2020ghostnet", "ghost_resnet{depth}", 1.38, "ghostnet_100",
           "methods/ghostnet"),
    Method("HorNet", "cifarlib.models.hornet", "rao2022hornet", "hor_resnet{depth}", 0.86, "hornet_tiny", "methods/hornet"),
    Method("ResNeSt", "cifarlib.models.resnest", "zhang2022resnest", "resnest{depth}", 0.92, "resnest50d", "methods/resnest"),
    Method("MLP-Mixer", "cifarlib.models.mixer", "tolstikhin2021mixer", "mixer_resnet{depth}", 1.16, "mixer_s4",
           "methods/mixer"),
)
"""The study's methods in the design table's order."""


MODEL_SELECTORS = ("all", "grafts", "iso", "full")
"""Words a plan group's ``models`` may use for a list derived from the registry / method table."""


def select_models(selector: str) -> list[str]:
    """The registry names a plan selector stands for, in the method table's order:
    ``grafts`` (each method's depth-20 graft), ``iso`` (their iso-parameter versions), ``full``
    (the full-size networks) and ``all`` (every listed model, :func:`.registry.list_models`)."""
    from .registry import list_models

    if selector == "all":
        return list_models()
    if selector == "grafts":
        return [m.graft for m in METHODS]
    if selector == "iso":
        return [m.iso for m in METHODS]
    if selector == "full":
        return [m.full for m in METHODS if m.full is not None]
    raise ValueError(f"unknown model selector {selector!r}; use one of {', '.join(MODEL_SELECTORS)} or model names")


def expand_models(models: str | Sequence[str]) -> list[str]:
    """A plan group's ``models``: a selector or a list of names and selectors, expanded in order
    (``[resnet20, grafts]`` is resnet20 followed by every method's graft)."""
    items = [models] if isinstance(models, str) else list(models)
    out: list[str] = []
    for item in items:
        out += select_models(item) if item in MODEL_SELECTORS else [item]
    return out


def load_methods() -> None:
    """Import each method's model file (it registers its graft template and full-size network),
    check that it registered what the table says, and register its iso-parameter graft. Methods
    already loaded are skipped, so calling this again after extending :data:`METHODS` loads the
    new entries only."""
    from .iso import register_iso
    from .registry import model_entry

    for method in METHODS:
        importlib.import_module(method.module)
        try:
            entry = model_entry(method.graft)
        except KeyError:
            raise ValueError(
                f"method table entry {method.name!r}: importing {method.module} registered no graft "
                f"{method.graft!r}; decorate its builder with @register_graft({method.graft_template!r}, "
                f"method={method.name!r}) in that file") from None
        if entry.family != "graft" or entry.method != method.name:
            raise ValueError(f"method table entry {method.name!r}: {method.graft!r} is registered as "
                             f"family {entry.family!r}, method {entry.method!r}; register it with "
                             f"register_graft(..., method={method.name!r})")
        if method.full is not None:
            try:
                full = model_entry(method.full)
            except KeyError:
                raise ValueError(f"method table entry {method.name!r}: {method.module} registered no full-size "
                                 f"model {method.full!r}; register it with family='full' or set full=None") from None
            if full.family != "full" or full.method != method.name:
                raise ValueError(f"method table entry {method.name!r}: {method.full!r} is family {full.family!r}, "
                                 f"method {full.method!r}, not a full-size {method.name} network")
        register_iso(method)
