"""The method table (cifarlib/models/methods.py) is the one list of methods: the registry, the iso
grafts, the plan selectors, the book's method pages and ablation sections, and the prose counts
all follow it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from cifarlib.models import METHODS, list_models, model_entry
from cifarlib.models.iso import iso_widths
from cifarlib.models.methods import MODEL_SELECTORS, expand_models, select_models
from cifarlib.report.ablations import STUDY_ABLATIONS
from cifarlib.report.counts import book_counts, chinese_number, plan_summary
from cifarlib.sweep import plan_runs

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import make_book_sections  # noqa: E402


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_each_entry_names_what_exists(method) -> None:
    assert (REPO / "book" / f"{method.page}.md").exists(), method.page
    assert re.search(rf"@\w+\{{{re.escape(method.paper)},", (REPO / "book" / "references.bib").read_text()), method.paper
    assert (REPO / Path(*method.module.split(".")).with_suffix(".py")).exists(), method.module
    assert model_entry(method.graft).family == "graft" and model_entry(method.iso).family == "iso"
    assert model_entry(method.iso).method == model_entry(method.graft).method == method.name


def test_the_table_has_no_duplicates() -> None:
    for field in ("name", "module", "graft_template", "page", "full"):
        values = [getattr(m, field) for m in METHODS if getattr(m, field) is not None]
        assert len(values) == len(set(values)), field


def test_iso_widths_come_from_the_table() -> None:
    assert list(iso_widths()) == [m.graft for m in METHODS]
    assert iso_widths()["coat_resnet20"] == (1.16, {"heads": 2})


def test_plan_selectors_expand_in_table_order() -> None:
    assert select_models("grafts") == list_models("graft")
    assert select_models("iso") == list_models("iso")
    assert select_models("full") == list_models("full")
    assert select_models("all") == list_models()
    assert expand_models(["resnet20", "grafts"]) == ["resnet20", *list_models("graft")]
    assert expand_models("iso") == list_models("iso")
    assert not set(MODEL_SELECTORS) & set(list_models())  # a selector never shadows a model name
    with pytest.raises(ValueError, match="unknown model selector 'graft'.*grafts"):
        select_models("graft")


def test_presets_use_the_selectors() -> None:
    graftcheck = [r.model for r in plan_runs("graftcheck")]
    assert graftcheck == ["resnet20", *list_models("graft")]
    full = plan_runs("full")
    assert [r.model for r in full if r.experiment == "main_iso" and r.seed == 0] == list_models("iso")
    assert [r.model for r in full if r.experiment == "main" and r.seed == 0] == ["resnet20", "resnet56", *list_models("graft")]


def test_toc_and_ablation_sections_are_generated_from_the_tables() -> None:
    assert make_book_sections.outdated() == {}, "run python tools/make_book_sections.py"
    toc = (REPO / "_toc.yml").read_text()
    assert re.findall(r"file: (methods/\w+)\n", toc)[1:] == [m.page for m in METHODS]


def test_prose_counts_follow_the_tables() -> None:
    assert [chinese_number(n) for n in (1, 6, 10, 11, 20, 23)] == ["一", "六", "十", "十一", "二十", "二十三"]
    with pytest.raises(ValueError, match="0-99"):
        chinese_number(100)
    counts = book_counts()
    assert counts["methods"] == chinese_number(len(METHODS))
    assert counts["ablations"] == chinese_number(len(STUDY_ABLATIONS))
    assert plan_summary("{methods}种嫁接，{ablations}组消融") == f"{counts['methods']}种嫁接，{counts['ablations']}组消融"
    with pytest.raises(ValueError, match="summary_zh.*methods"):
        plan_summary("{method}种")
