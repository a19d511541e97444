"""The report's front matter and page renderers: palette and figure fonts, the method pages' cost
tables, the archived run pages in Chinese, the authors file, the overview's corrected verdicts."""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent

# sRGB -> simulated dichromat (Machado et al. 2009, severity 1) -> CIELAB
_SIMULATIONS = {
    "normal": np.eye(3),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def _lab(hex_colour: str, simulation: np.ndarray) -> np.ndarray:
    srgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ np.clip(
        simulation @ linear, 0, 1)
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_palette_has_twelve_hues_distinct_for_colour_blind_readers() -> None:
    from cifarlib.report.plots import CATEGORICAL, categorical_palette

    assert len(set(CATEGORICAL)) >= 11
    for name, simulation in _SIMULATIONS.items():
        labs = [_lab(c, simulation) for c in CATEGORICAL]
        closest = min(np.linalg.norm(a - b) for a, b in itertools.combinations(labs, 2))
        assert closest >= 16, (name, closest)
    assert categorical_palette(13)[12] == CATEGORICAL[0]
    with pytest.raises(ValueError, match="non-negative"):
        categorical_palette(-1)


def test_figure_legends_are_at_least_9_pt_at_the_page_width() -> None:
    import matplotlib.pyplot as plt

    from cifarlib.report import plots

    history = pd.DataFrame([{"epoch": e, "train_loss": 2 - 0.1 * e, "test_top1": 50 + e, "model": f"m{i}",
                             "seed": 0} for i in range(11) for e in range(1, 4)])
    runs = pd.DataFrame([{"model": f"m{i}", "method": f"方法{i}", "test_top1": 70 + i, "params_m": 0.27 + 0.01 * i}
                         for i in range(11)])
    for fig in (plots.training_curves(history), plots.accuracy_vs_cost(runs)):
        fig.canvas.draw()
        width_in = fig.get_tightbbox().width  # inches, as saved with bbox_inches="tight"
        sizes = [t.get_fontsize() for legend in [*fig.legends, *[a.get_legend() for a in fig.axes]]
                 if legend is not None for t in legend.get_texts()]
        assert sizes and min(plots.displayed_pt(s, width_in) for s in sizes) >= 9, (width_in, sizes)
        colours = {line.get_color() for ax in fig.axes for line in ax.get_lines()} | {
            tuple(np.round(c, 3)) for ax in fig.axes for coll in ax.collections for c in coll.get_facecolor()}
        assert colours
        plt.close(fig)


def test_cost_table_is_in_chinese() -> None:
    from cifarlib.report.model_cost import cost_display, cost_table

    shown = cost_table(["eca_resnet20", "resnet20", "eca_resnet50"]).data
    assert list(shown.columns) == ["模型", "类别", "方法", "参数量（百万）", "GFLOPs（32×32）"]
    assert list(shown["类别"]) == ["嫁接版", "骨干", "完整版"]
    assert all(re.fullmatch(r"\d+\.\d{3}", v) for v in shown["参数量（百万）"])
    with pytest.raises(ValueError, match="FAMILY_ZH"):
        cost_display(pd.DataFrame([{"model": "x", "family": "alien", "method": "", "params_m": 1.0, "gflops": 1.0}]))
    for page in (REPO / "book" / "methods").glob("*.md"):
        assert "model_table(" not in page.read_text(), page  # every page shows the Chinese table


def test_committed_run_pages_render_in_chinese_from_their_records() -> None:
    sys.path.insert(0, str(REPO / "book" / "_ext"))
    import run_pages

    from cifarlib.paths import DEFAULT_RESULTS_DIR
    from cifarlib.results import read_record

    pages = sorted((REPO / "book" / "runs").glob("*/*/*.ipynb"))
    assert pages
    for page in pages[:: max(1, len(pages) // 6)]:
        doc = page.relative_to(REPO / "book").with_suffix("").as_posix()
        record = read_record(run_pages.record_path(doc, Path(DEFAULT_RESULTS_DIR)), DEFAULT_RESULTS_DIR)
        original = page.read_text()
        shown = json.loads(run_pages.chinese_run_page(original, record))
        assert json.loads(original)["cells"][0]["source"]  # the committed file itself is untouched
        text = json.dumps(shown, ensure_ascii=False)
        assert "This notebook" not in text and "结果 / Results" not in text
        outputs = [o["data"]["text/html"] for c in shown["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
        assert len(outputs) == 2 and "项目" in outputs[0] and "测试集 top-1" in outputs[0]
        assert not re.search(r"\d+\.\d{4,}", "".join(outputs))  # rounded, no float32 reprs
        assert not re.search(r"\b(airplane|automobile|truck)\b", outputs[1])
        assert f"{record['final']['test_top1']:.2f}%" in outputs[0]
    assert run_pages.record_path("runs/index", Path("r")) is None


def test_train_notebook_uses_the_run_page_renderers() -> None:
    import nbformat

    source = "\n".join(c.source for c in nbformat.read(REPO / "notebooks" / "train.ipynb", as_version=4).cells)
    assert "run_summary(record)" in source and "per_class_extremes(record)" in source
    assert "This notebook" not in source


def test_authors_file_is_read_and_checked(tmp_path: Path) -> None:
    from cifarlib.report.authors import author_line, authors_markdown, load_authors

    authors = load_authors()
    assert authors and all(a.name for a in authors)
    good = tmp_path / "a.yml"
    good.write_text("authors:\n  - name: 张三\n    contribution: 实验\n  - name: 李四\n", encoding="utf-8")
    two = load_authors(good)
    assert author_line(two) == "张三、李四" and authors_markdown(two) == "- **张三**：实验\n- **李四**"
    for text, message in (("authors: []\n", "non-empty"), ("authors:\n  - contribution: x\n", "no 'name'"),
                          ("authors:\n  - name: a\n    email: b\n", "only 'name'"), ("a: [\n", "not valid YAML")):
        good.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            load_authors(good)
    with pytest.raises(ValueError, match="missing"):
        load_authors(tmp_path / "none.yml")


def test_overview_answer_gives_one_corrected_verdict_per_graft() -> None:
    from cifarlib.report import overview, study_plan
    from cifarlib.results import load_runs

    runs, planned = load_runs(), study_plan.planned_runs("study")
    text = overview.overview_answer(runs, planned)
    sentences = [s for s in text.split("。") if s]
    assert len(sentences) == 3
    family, names = overview.main_family(study_plan.study_runs(runs, planned))
    for experiment in ("main_iso", "main"):
        rows = family[family["comparison"] == names[experiment]]
        for model in rows["label"]:
            assert len(re.findall(rf"`{re.escape(model)}`", text)) <= 1, model  # never two verdicts
        calls = overview.corrected_calls(rows)
        for _, row in calls["lower"].iterrows():
            assert f"`{row['label']}`（{row['diff']:+.2f}）" in text
    assert "单独看" not in text and "区间跨过 0" not in text


def test_authors_extension_names_the_authors_on_the_pdf_title_page() -> None:
    from types import SimpleNamespace

    sys.path.insert(0, str(REPO / "book" / "_ext"))
    import authors as extension

    from cifarlib.report.authors import author_line, load_authors

    config = SimpleNamespace(author="placeholder", latex_documents=[("intro", "book.tex", "T", "placeholder", "manual")])
    app = SimpleNamespace(config=config)
    extension.on_config_inited(app, config)
    extension.on_env_before_read_docs(app, None, [])
    assert config.author == author_line(load_authors())
    assert config.latex_documents == [("intro", "book.tex", "T", config.author, "manual")]
