"""Sphinx extension: Chinese typography fixes applied to every page's text (not to code or math).

* A line break inside a Markdown paragraph becomes a space in HTML. Between two Chinese
  characters, and next to Chinese (full-width) punctuation, that space is wrong, so the break is
  removed; between a Chinese character and Latin text or inline math it stays a space (the
  spacing the sources use around Latin words and formulas).
* Straight double quotes around text that contains Chinese become Chinese quotes “…”, also when
  the quoted text spans several nodes (inline code or math inside the quotes). Sphinx's own
  "smart quotes" must be off for Chinese (``smartquotes = False``): after a Chinese character it
  takes an opening quote for a closing one.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
CJK_PUNCT = r"[\u3000-\u303f\uff00-\uffef“”‘’]"
SOFT_BREAK = re.compile(rf"({CJK})[ \t]*\n[ \t]*(?={CJK})|({CJK_PUNCT})[ \t]*\n[ \t]*(?=\S)|(?<=\S)[ \t]*\n[ \t]*(?={CJK_PUNCT})")
STRAIGHT_QUOTES = re.compile(r'"([^"\n]*[\u4e00-\u9fff][^"\n]*)"')
SKIP = (nodes.literal_block, nodes.literal, nodes.math, nodes.math_block, nodes.raw,
        nodes.FixedTextElement)
BLOCKS = (nodes.paragraph, nodes.title, nodes.caption, nodes.term, nodes.rubric, nodes.line)


def _join(match: re.Match) -> str:
    return match.group(1) or match.group(2) or ""


def join_breaks(text: str) -> str:
    """Remove the soft line breaks that would be stray spaces (see the module docstring)."""
    return SOFT_BREAK.sub(_join, text)


def fix_text(text: str) -> str:
    """Join soft line breaks inside Chinese and curl straight quotes around Chinese (one string;
    the extension pairs quotes over a whole paragraph instead, see :func:`on_doctree_read`)."""
    return STRAIGHT_QUOTES.sub(r"“\1”", join_breaks(text))


def _in_skipped(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, SKIP) or "cell_output" in parent.get("classes", []):
            return True
        parent = parent.parent
    return False


def _is_cjk(char: str) -> bool:
    return bool(char) and re.fullmatch(CJK, char) is not None


def _is_cjk_punct(char: str) -> bool:
    return bool(char) and re.fullmatch(CJK_PUNCT, char) is not None


def _break_is_wrong(before: str, after: str) -> bool:
    """Whether a line break between the characters ``before`` and ``after`` should vanish."""
    if not before or not after or before.isspace() or after.isspace():
        return False
    return (_is_cjk(before) and _is_cjk(after)) or _is_cjk_punct(before) or _is_cjk_punct(after)


def _curl_quotes_across_nodes(block: nodes.Element) -> None:
    """Pair straight quotes over all text of ``block`` (code and math count as opaque text) and
    curl each pair whose content has Chinese; unpaired quotes are left as they are."""
    pieces: list[tuple[nodes.Text | None, str]] = []
    for node in block.findall(lambda n: isinstance(n, (nodes.Text, *SKIP))):
        if isinstance(node, nodes.Text):
            if not _in_skipped(node):
                pieces.append((node, str(node)))
        elif not _in_skipped(node):  # opaque: its text can't hold a quote we may change
            pieces.append((None, node.astext().replace('"', "'")))
    text = "".join(s for _, s in pieces)
    if text.count('"') < 2:
        return
    curl: dict[int, str] = {}
    for match in re.finditer(r'"([^"\n]*)"', text):
        if re.search(r"[\u4e00-\u9fff]", match.group(1)):
            curl[match.start()], curl[match.end() - 1] = "“", "”"
    if not curl:
        return
    offset = 0
    for node, s in pieces:
        if node is not None and any(offset <= k < offset + len(s) for k in curl):
            chars = list(s)
            for k, q in curl.items():
                if offset <= k < offset + len(s):
                    chars[k - offset] = q
            node.parent.replace(node, nodes.Text("".join(chars)))
        offset += len(s)


def on_doctree_read(app: Sphinx | None, doctree: nodes.Node) -> None:
    for text in list(doctree.findall(nodes.Text)):
        if text.parent is None or _in_skipped(text):
            continue
        if not str(text).strip() and "\n" in str(text):
            # MyST gives a soft line break its own Text node: drop it where it would be a stray space
            siblings = text.parent.children
            i = next(k for k, child in enumerate(siblings) if child is text)  # Text == compares strings
            prev = siblings[i - 1] if i > 0 else None
            nxt = siblings[i + 1] if i + 1 < len(siblings) else None
            if prev is not None and nxt is not None and _break_is_wrong(prev.astext()[-1:], nxt.astext()[:1]):
                del text.parent[i]  # by position: remove(text) would drop the first equal "\n" node
            continue
        fixed = join_breaks(str(text))
        if fixed != str(text):
            text.parent.replace(text, nodes.Text(fixed))
    for block in list(doctree.findall(lambda n: isinstance(n, BLOCKS))):
        if not _in_skipped(block):
            _curl_quotes_across_nodes(block)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", on_doctree_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
