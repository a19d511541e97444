"""Chapters computed from fabricated multi-seed records show intervals; one-seed records say so."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbclient
import nbformat
import pytest

from multiseed import fabricate_results  # tests/multiseed.py (pytest puts tests/ on sys.path)

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _execute(name: str, results: Path | None) -> nbformat.NotebookNode:
    """The chapter executed against ``results`` (the committed records when None)."""
    nb = nbformat.read(REPO / "book" / name, as_version=4)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    if results is not None:
        env["CIFARLIB_BOOK_RESULTS"] = str(results)
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(REPO / "book")}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def _glued(nb: nbformat.NotebookNode, name: str) -> str:
    """The text of one glued value (myst_nb.glue) of an executed chapter."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("metadata", {}).get("scrapbook", {}).get("name") == name:
                return "\n".join(str(v) for k, v in out.get("data", {}).items() if k.startswith("application/papermill.record/"))
    raise KeyError(f"no glued value {name!r}")


def _run_chapter(name: str, results: Path | None) -> str:
    return _chapter_text(_execute(name, results))


def _chapter_text(nb: nbformat.NotebookNode) -> str:
    """Every output of an executed chapter as text (streams, markdown, HTML, glued values)."""
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            texts.append(out.get("text", "") + data.get("text/markdown", "") + data.get("text/html", ""))
            # glued values (myst_nb.glue, display=False) sit under papermill's record prefix
            texts += [str(v) for k, v in data.items() if k.startswith("application/papermill.record/text/")]
    return "\n".join(texts)


def test_results_chapter_with_three_seeds_shows_intervals(tmp_path: Path) -> None:
    text = _run_chapter("results.ipynb", fabricate_results(tmp_path / "results"))
    assert "95% 配对 t 区间" in text and "main：按原设计嫁接对 `resnet20`" in text
    assert "ablation_eca_k" in text  # its group table; its intervals are the ablations chapter's
    # a figure's caption is left for the book to number (图 N.M, book/_ext/numbering.py)
    assert "**图**\u3000" in text and "**图 1**" not in text and "Traceback" not in text
    assert "只有 **1 个随机种子**" not in text


def test_results_chapter_with_one_seed_says_it_cannot_compare(tmp_path: Path) -> None:
    import shutil

    one_seed = tmp_path / "results"  # the committed 1-seed groups only (later sweeps add seeds to others)
    for group in ("graftcheck", "offline"):
        shutil.copytree(REPO / "results" / "cifar10-jpeg" / group, one_seed / "cifar10-jpeg" / group)
    text = _run_chapter("results.ipynb", one_seed)
    n = len([p for p in one_seed.rglob("*.json") if not p.name.endswith(".meta.json")])
    assert f"共有 **{n}** 条运行记录，分为 2 组" in text  # every record counted
    assert "只有 **1 个随机种子**" in text
    assert "配对种子数" not in text


STUDY_CHAPTERS = ("ablations.ipynb", "perclass.ipynb", "efficiency.ipynb", "conclusions.ipynb")


@pytest.mark.parametrize("name", STUDY_CHAPTERS)
def test_study_chapters_run_without_records_and_say_what_is_missing(tmp_path: Path, name: str) -> None:
    empty = tmp_path / "results"
    empty.mkdir()
    text = _run_chapter(name, empty)
    assert "Traceback" not in text
    if name != "efficiency.ipynb":  # the efficiency chapter reads the committed benchmarks
        nb = nbformat.read(REPO / "book" / name, as_version=4)
        assert any("missing" in cell.source for cell in nb.cells if cell.cell_type == "code")


def test_study_chapters_with_three_seeds_show_intervals(tmp_path: Path) -> None:
    results = fabricate_results(tmp_path / "results")
    text = _run_chapter("ablations.ipynb", results)
    assert "95% 配对 t 区间" in text and ">95% 区间</th>" in text and "Traceback" not in text
    assert "按论文（默认）" in text and "3×3 深度卷积" in text  # the ConvNeXt diagnosis table (committed JSON)
    nb = _execute("conclusions.ipynb", results)
    text = _chapter_text(nb)
    assert ">95% 区间</th>" in text and "尚未完成的运行" in text
    # each set's paragraph comes from its own comparison (MAIN_EXPERIMENTS' order is not the page's)
    # (the fabricated study has main's grafts and no main_iso records)
    assert "coat_resnet20 比参考" in _glued(nb, "con_main") and "还没有可比较的记录" in _glued(nb, "con_iso")
    assert ">Holm p</th>" in text and "当作一族校正" in text  # the family-wise view of every interval


def test_perclass_chapter_from_the_committed_study_records(tmp_path: Path) -> None:
    import shutil

    real = tmp_path / "results"  # the committed study records carry confusion matrices
    for group in ("main", "ablation_eca_k"):
        shutil.copytree(REPO / "results" / "cifar10-jpeg" / group, real / "cifar10-jpeg" / group)
    text = _run_chapter("perclass.ipynb", real)
    assert "最常混淆" in text and "类别 A" in text and "猫" in text and "Traceback" not in text


def test_efficiency_chapter_shows_a_model_without_benchmark_rows_as_not_measured(tmp_path: Path) -> None:
    """A new model's records, before anyone measured its rows in benchmarks/results/: the chapter
    runs and says 未测 instead of failing or dropping the model."""
    results = fabricate_results(tmp_path / "results")
    for path in sorted(results.glob("*/main/eca_resnet20-*.json")):  # eca_resnet32: in no benchmark file
        path.with_name(path.name.replace("eca_resnet20", "eca_resnet32")).write_text(
            path.read_text().replace("eca_resnet20", "eca_resnet32"))
    text = _run_chapter("efficiency.ipynb", results)
    assert "Traceback" not in text and "eca_resnet32" in text and "未测" in text


def _second_budget(root: Path, shift: float = 5.8) -> Path:
    """The committed main / main_iso / ablation_layer_scale records (the 4-epoch ConvNeXt headline is
    the latter's ls1), and copies of main / main_iso as the 10-epoch budget's main_e10 / main_iso_e10
    (top-1 + ``shift``; ConvNeXt as variant ls1, +40), under ``root``."""
    import json
    import shutil

    for group in ("main", "main_iso", "ablation_layer_scale"):
        shutil.copytree(REPO / "results" / "cifar10-jpeg" / group, root / "cifar10-jpeg" / group)
    for source, target in (("main", "main_e10"), ("main_iso", "main_iso_e10")):
        for path in sorted((REPO / "results" / "cifar10-jpeg" / source).glob("*.json")):
            record = json.loads(path.read_text())
            model = record["config"]["model"]
            if source == "main" and model != "resnet20":
                continue
            variant = "ls1" if model.startswith("convnext") else record["variant"]
            record["experiment"], record["variant"] = target, variant
            record["run"] = f"{model}-{variant}-s{record['config']['seed']}"
            record["final"]["test_top1"] = round(record["final"]["test_top1"] + shift + (40 if variant == "ls1" else 0), 4)
            if record["history"]:
                record["history"][-1]["test_top1"] = record["final"]["test_top1"]
            out = root / "cifar10-jpeg" / target / f"{record['run']}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(record))
    return root


def test_results_chapter_shows_both_budgets_side_by_side(tmp_path: Path) -> None:
    text = _run_chapter("results.ipynb", _second_budget(tmp_path / "results"))
    assert "Traceback" not in text
    assert "10 轮：差 [95% 区间]" in text and "convnext_resnet20_iso（ls1）" in text  # gamma0 = 1 at both budgets
    assert "Spearman 相关系数为" in text and "按种子 bootstrap 的 95% 区间" in text
    assert re.search(r"已完成 \*\*\d+\*\* 个，用了 \d+\.\d 核·小时", text)  # the second budget's cost so far
    assert "两个预算下结论相同的有" in text and "`mixer_resnet20_iso`（更低）" in text  # shifted: the same call
    assert "`convnext_resnet20_iso`（4 轮更低，10 轮更高）" in text  # ls1's +40 flips it
    assert "论文的 γ₀=10⁻⁶ 减去 γ₀=1，4 轮时为 -19.87 个百分点" in text  # the committed ablation's arm


def test_results_chapter_without_the_second_budget_says_it_is_running(tmp_path: Path) -> None:
    text = _run_chapter("results.ipynb", fabricate_results(tmp_path / "results"))
    assert "已完成 **0** 个；仍在训练中" in text and "10 轮预算还没有可比较的记录" in text  # no resnet20 yet: no cost
