"""No hand-typed measurement in the book's prose: every number that comes from a run, a benchmark
or a plan is computed when the book builds and pasted with ``{glue:...}``.

The scan reads the prose the author writes (the ``.md`` pages, the markdown cells of the chapter
notebooks and the Chinese string literals of their code cells: captions and sentences; not code,
math, inline code or roles) and finds numbers that look like a result:
decimals, percentages, multiples (倍), epochs (轮), counts of seeds, runs, records, hours, minutes,
cores, threads and images. Each one left in a page is listed in :data:`ALLOWED` with the reason it
is a definition or a fact of the world (a paper's setting, a data set's size, the machine), not a
measurement of this study; a new one fails the test until it is glued or listed with its reason.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"

_UNITS = r"(?:%|％|倍|轮|个种子|个运行|条运行|条记录|个百分点|百分点|分钟|小时|核|个线程|张图像|万张|张|M\b|GFLOP)"
_HAN = re.compile(r"[\u4e00-\u9fff]")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s*" + _UNITS + r"|(?<![\w./])\d+\.\d+(?![\w.])")
_HIDDEN = [re.compile(p, re.S) for p in (
    r"```.*?```",  # code cells, directives (their bodies are code or glued)
    r"\$\$.*?\$\$",  # display math
    r"\$[^$\n]*\$",  # inline math
    r"\{[a-z:-]+\}`[^`]*`",  # roles: {glue:text}`key`, {cite}`key`, {doc}`page`
    r"`[^`]*`",  # inline code
    r"\]\([^)]*\)",  # link targets
)]

# page -> the typed numbers it may keep, each with its reason
ALLOWED: dict[str, dict[str, str]] = {
    "ablations.ipynb": {
        "95%": "the confidence level the book uses (a definition)",
        "5%": "the false-positive rate of one 95 % interval (a definition)",
        "0.1": "the recipe's peak learning rate named in a caption (the recipe's definition)",
        "300 轮": "the ConvNeXt paper's ImageNet schedule (a fact of the paper)",
        "3 个种子": "the rule that a third seed confirms a df-1 interval (a definition)",
    },
    "conclusions.ipynb": {
        "95%": "the confidence level (a definition)",
        "5%": "the false-positive rate of one 95 % interval (a definition)",
        "80%": "the power the detectable difference is defined at (a definition)",
        "1 个种子": "the rule that one seed gives no interval (a definition)",
        "2 核": "the machine every record was trained on (records store the CPU model, not its cores)",
    },
    "discussion.md": {
        "97.5%": "the t quantile's level for a 95 % interval (a definition)",
        "95%": "the confidence level (a definition)",
    },
    "intro.md": {
        "95%": "the confidence level (a definition)",
        "1 个种子": "the rule for which models get one seed (a definition)",
        "2 核": "the machine every record was trained on (records store the CPU model, not its cores)",
    },
    "methods/coatnet.md": {"16 倍": "arithmetic on the paper's token counts (256 vs 64 tokens squared)"},
    "methods/convnext.md": {
        "4 倍": "the paper's MLP expansion ratio",
        "0.02": "the paper's truncated-normal init std",
        "300 轮": "the paper's ImageNet schedule",
    },
    "methods/cspnet.md": {"2 倍": "timm's CSPResNet-50 expansion before the split"},
    "methods/ghostnet.md": {"1.0": "GhostNet's width multiplier name (GhostNet 1.0×)",
                            "0.2": "the paper's dropout"},
    "methods/hornet.md": {"3.3": "the paper's equation number", "3.4": "the paper's equation number",
                          "0.09M": "arithmetic on the graft's design (two added 1x1 projections per block)",
                          "0.2": "the paper's stochastic depth"},
    "methods/index.md": {"32 倍": "ImageNet networks' total stride (a fact of the papers)",
                         "300 轮": "the papers' ImageNet schedule"},
    "methods/lsknet.md": {"0.16M": "arithmetic on the block's kernel sizes, given with the formula",
                          "0.1": "the paper's stochastic depth"},
    "methods/mixer.md": {"0.5": "the switch's default ratio, as the switch table lists it",
                         "2 倍": "the upper end of the 0.5-2x range a test checks (a definition)"},
    "methods/segnext.md": {"0.1": "the paper's stochastic depth / the learning rate of the NaN probe",
                           "4 倍": "the paper's stem downsampling"},
    "reproduce.md": {"3.11": "the Python version the project needs"},
    "results.ipynb": {
        "2 核": "the machine every record was trained on (records store the CPU model, not its cores)",
        "1 个种子": "the rule for which models get one seed (a definition)",
        "2 个种子": "the rule that an interval needs two seeds (a definition)",
        "95%": "the confidence level (a definition)",
    },
    "setup.md": {
        "0.1 倍": "the one-cycle schedule's start fraction of the peak (the schedule's definition)",
        "1 万张": "CIFAR's test-set size (a fact of the data set)",
        "2 核": "the machine every record was trained on (records store the CPU model, not its cores)",
        "1 个线程": "the sweep's thread setting (a definition, OMP_NUM_THREADS=1)",
        "2 个线程": "the alternative the sentence compares against (a definition)",
        "95%": "the confidence level (a definition)",
        "0.05": "the Holm threshold (a definition)",
        "5 万张": "CIFAR's training-set size (a fact of the data set)",
    },
}


def prose_numbers(text: str) -> list[str]:
    """The result-like numbers in ``text`` (MyST markdown) outside code, math, roles and links."""
    for pattern in _HIDDEN:
        text = pattern.sub(" ", text)
    return [re.sub(r"\s+", " ", m.group(0)).strip() for m in _NUMBER.finditer(text)]


def chinese_literals(code: str) -> list[str]:
    """The string literals of ``code`` (Python) that hold Chinese: the captions and sentences a
    code cell writes into the page."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError) as err:
        raise AssertionError(f"a book code cell does not tokenize ({err}):\n{code[:200]}") from None
    return [tok.string for tok in tokens if tok.type == tokenize.STRING and _HAN.search(tok.string)]


def _prose(path: Path) -> str:
    """The page's markdown and the Chinese string literals of its code cells."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    else:
        markdown = [path.read_text(encoding="utf-8")]
        code = [re.sub(r"^:[\w-]+:.*\n", "", cell, flags=re.M)  # the cell's options (:tags: ...)
                for cell in re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", markdown[0], re.S)]
    return "\n\n".join(markdown + [literal for cell in code for literal in chinese_literals(cell)])


def typed_numbers_by_page() -> dict[str, list[str]]:
    """Every book page's result-like typed numbers (archived run pages and build output excluded)."""
    pages = sorted(p for p in BOOK.rglob("*") if p.suffix in (".md", ".ipynb")
                   and not {"_build", "runs", ".ipynb_checkpoints"} & set(p.relative_to(BOOK).parts))
    return {p.relative_to(BOOK).as_posix(): prose_numbers(_prose(p)) for p in pages}


@pytest.mark.parametrize("text, found", [
    ("测试 top-1 为 83.35%，比参考高 0.32 个百分点。", ["83.35%", "0.32 个百分点"]),
    ("训练 10 轮、3 个种子，共用 12.5 小时。", ["10 轮", "3 个种子", "12.5 小时"]),
    ("差 {glue:text}`delta` 个百分点，$\\gamma_0=10^{-6}$，`lr=0.1`，见 [表](a.md)。", []),
    ("```{code-cell} ipython3\nx = 0.25\n```\n正文。", []),
    ("ResNet-20 的 3×3 卷积与 32/16/8 特征图。", []),
])
def test_prose_numbers_finds_typed_results_and_skips_code_math_and_glue(text, found):
    assert prose_numbers(text) == found


def test_no_page_types_a_number_it_does_not_list():
    unexplained = {page: sorted(set(found) - set(ALLOWED.get(page, {})))
                   for page, found in typed_numbers_by_page().items()}
    unexplained = {page: numbers for page, numbers in unexplained.items() if numbers}
    assert not unexplained, (
        f"hand-typed numbers in the book's prose: {unexplained}; compute and glue them (myst_nb.glue in "
        "the page's code cell, {glue:text}`key` in the text), or, for a definition or a fact outside "
        "this study, list them in tests/test_typed_numbers.py's ALLOWED with the reason")


def test_every_allowed_number_is_still_there():
    pages = typed_numbers_by_page()
    stale = {page: sorted(set(allowed) - set(pages.get(page, []))) for page, allowed in ALLOWED.items()}
    stale = {page: numbers for page, numbers in stale.items() if numbers}
    assert not stale, f"ALLOWED lists numbers no page types any more, remove them: {stale}"


def test_code_cells_contribute_their_chinese_captions_only() -> None:
    code = 'x = 0.25\ndisplay(Markdown(f"**表**　{name}：训练 12 轮的结果"))\nprint("done 3.5")\n'
    assert chinese_literals(code) == ['f"**表**　{name}：训练 12 轮的结果"']
    assert prose_numbers("".join(chinese_literals(code))) == ["12 轮"]
