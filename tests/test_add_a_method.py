"""ARCHITECTURE.md's "Add a method", followed for a toy graft and nothing else: a model file, one
entry in the method table, one ablation entry. The registry (graft and iso graft), the plan
selectors, the method table's derived lists, the generated book sections, the prose counts and a
chapter's comparisons on fabricated records all pick it up."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from cifarlib.models import create_model, list_models, load_methods, methods, registry
from cifarlib.models.iso import iso_widths, same_model, search_iso_width
from cifarlib.report import ablations, comparison_family, counts
from cifarlib.sweep import plan_runs

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import make_book_sections  # noqa: E402

TOY_MODEL_FILE = '''
"""Toy graft: a learnable per-channel gate at the end of each residual branch."""
import torch
import torch.nn as nn

from cifarlib.models import register_graft
from cifarlib.models.resnet import CifarResNet, basic_block_factory, scaled_widths


class Gate(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


@register_graft("toy_resnet{depth}", method="ToyNet")
def toy_resnet(depth: int, num_classes: int = 100, width: float = 1.0, gate: bool = True) -> CifarResNet:
    factory = Gate if gate else None
    return CifarResNet(depth, basic_block_factory(factory), num_classes=num_classes, widths=scaled_widths(width))
'''


@pytest.fixture
def toy_method(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> methods.Method:
    """Steps 1, 2 and 4 of "Add a method" for a toy, in a registry restored after the test."""
    for name in ("_MODELS", "_GRAFTS", "_RESERVED"):
        monkeypatch.setattr(registry, name, dict(getattr(registry, name)))
    # step 1: the model file
    (tmp_path / "toy_graft_model.py").write_text(textwrap.dedent(TOY_MODEL_FILE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "toy_graft_model", raising=False)
    # step 2: one entry in the method table (its iso width from the search, as the step says)
    method = methods.Method("ToyNet", "toy_graft_model", "toy2026gate", "toy_resnet{depth}", 1.0, None, "methods/toy")
    monkeypatch.setattr(methods, "METHODS", (*methods.METHODS, method))
    load_methods()
    # step 4: an ablation of it, with its chapter text
    toy_ablation = ablations.Ablation(
        "toy_gate", "Toy 门控开 / 关",
        ablations.Arm("main", "toy_resnet20", "default", "有门控"),
        (ablations.Arm("ablation_toy_gate", "toy_resnet20", "nogate", "无门控"),),
        text="去掉门控（`gate=False`）就回到骨干。")
    monkeypatch.setattr(ablations, "STUDY_ABLATIONS", (*ablations.STUDY_ABLATIONS, toy_ablation))
    return method


def test_registry_and_iso_pick_up_the_toy(toy_method: methods.Method) -> None:
    assert list_models("graft")[-1] == "toy_resnet20" and list_models("iso")[-1] == "toy_resnet20_iso"
    assert create_model("toy_resnet20", num_classes=10, gate=False)(pytest.importorskip("torch").randn(1, 3, 32, 32)).shape == (1, 10)
    assert create_model("toy_resnet32").depth == 32  # any CIFAR depth, as every graft
    assert iso_widths()["toy_resnet20"] == (1.0, {})
    assert search_iso_width("toy_resnet20") == 1.0  # 336 gate parameters: the same widths as resnet20
    assert same_model("toy_resnet20_iso") == "toy_resnet20"


def test_plan_selectors_pick_up_the_toy(toy_method: methods.Method, tmp_path: Path) -> None:
    assert methods.select_models("grafts")[-1] == "toy_resnet20"
    assert methods.select_models("iso")[-1] == "toy_resnet20_iso"
    assert "toy_resnet20" not in methods.select_models("full")  # full=None: no full-size network
    plan = tmp_path / "plan.yaml"
    plan.write_text("presets:\n  p:\n    dataset: cifar100\n    settings: {epochs: 1, amp: 'off', channels_last: 'off'}\n"
                    "    groups:\n      - {experiment: check, models: [resnet20, grafts], seeds: [0]}\n"
                    "      - {experiment: iso, models: iso, seeds: [0]}\n")
    runs = plan_runs("p", plan)
    assert [r.model for r in runs if r.experiment == "check"] == ["resnet20", *list_models("graft")]
    assert "toy_resnet20_iso" in [r.model for r in runs if r.experiment == "iso"]


def test_book_sections_and_counts_pick_up_the_toy(toy_method: methods.Method) -> None:
    toc = make_book_sections.toc_text((REPO / "_toc.yml").read_text())
    assert toc.index("file: methods/mixer") < toc.index("file: methods/toy") < toc.index("caption: 实验")
    nb = make_book_sections.ablations_notebook(
        make_book_sections.nbformat.read(make_book_sections.ABLATIONS, as_version=4))
    sources = [c.source for c in nb.cells]
    section = sources.index("## Toy 门控开 / 关\n\n去掉门控（`gate=False`）就回到骨干。")
    assert sources[section + 1] == 'section(by_key["toy_gate"])' and "toy_gate_fig" in sources[section + 2]
    assert counts.book_counts()["methods"] == counts.chinese_number(len(methods.METHODS)) == "十一"
    assert counts.book_counts()["full"] == "十"


def _fabricated_runs() -> pd.DataFrame:
    rows = []
    for seed, base in enumerate((60.0, 61.0, 59.5)):
        rows += [{"experiment": "main", "model": "resnet20", "variant": "default", "seed": seed, "test_top1": base},
                 {"experiment": "main", "model": "toy_resnet20", "variant": "default", "seed": seed, "test_top1": base + 1.0},
                 {"experiment": "main_iso", "model": "toy_resnet20_iso", "variant": "default", "seed": seed,
                  "test_top1": base + 1.0},
                 {"experiment": "ablation_toy_gate", "model": "toy_resnet20", "variant": "nogate", "seed": seed,
                  "test_top1": base + 0.1 * seed}]
    return pd.DataFrame(rows)


def test_a_chapter_picks_up_the_toy_from_records(toy_method: methods.Method) -> None:
    named = comparison_family.study_comparisons(_fabricated_runs())
    by_name = {name: table for name, _, table in named}
    gate = by_name["Toy 门控开 / 关"]
    arm = gate[gate["role"] == "arm"].iloc[0]
    assert arm["label"] == "无门控" and arm["pairs"] == 3
    family = comparison_family.comparison_family(named)
    main_row = family[family["comparison"].str.startswith("main（")].iloc[0]
    assert main_row["same_as"].startswith("main_iso（对 resnet20）")  # the iso graft is the graft: counted once
