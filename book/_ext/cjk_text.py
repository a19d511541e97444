"""Sphinx extension: Chinese typography fixes applied to every page's text (not to code or math).

* A line break inside a Markdown paragraph becomes a space in HTML; between two Chinese
  characters (or Chinese punctuation) that space is wrong, so the break is removed.
* Straight double quotes around text that contains Chinese become Chinese quotes “…”.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
SOFT_BREAK = re.compile(rf"({CJK})[ \t]*\n[ \t]*(?={CJK})")
STRAIGHT_QUOTES = re.compile(r'"([^"\n]*[\u4e00-\u9fff][^"\n]*)"')
SKIP = (nodes.literal_block, nodes.literal, nodes.math, nodes.math_block, nodes.raw,
        nodes.FixedTextElement)


def fix_text(text: str) -> str:
    """Join soft line breaks between Chinese characters and curl straight quotes around Chinese."""
    return STRAIGHT_QUOTES.sub(r"“\1”", SOFT_BREAK.sub(r"\1", text))


def _in_skipped(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, SKIP) or "cell_output" in parent.get("classes", []):
            return True
        parent = parent.parent
    return False


def _is_cjk(char: str) -> bool:
    return bool(char) and re.fullmatch(CJK, char) is not None


def on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    for text in list(doctree.findall(nodes.Text)):
        if text.parent is None or _in_skipped(text):
            continue
        if not str(text).strip() and "\n" in str(text):
            # MyST gives a soft line break its own Text node: drop it between two Chinese characters
            siblings = text.parent.children
            i = next(k for k, child in enumerate(siblings) if child is text)  # Text == compares strings
            prev = siblings[i - 1] if i > 0 else None
            nxt = siblings[i + 1] if i + 1 < len(siblings) else None
            if prev is not None and nxt is not None and _is_cjk(prev.astext()[-1:]) and _is_cjk(nxt.astext()[:1]):
                text.parent.remove(text)
            continue
        fixed = fix_text(str(text))
        if fixed != str(text):
            text.parent.replace(text, nodes.Text(fixed))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", on_doctree_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
