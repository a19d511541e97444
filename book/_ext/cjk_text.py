"""Sphinx extension: Chinese typography fixes applied to every page's text (not to code or math).

* A line break inside a Markdown paragraph becomes a space in HTML. Between two Chinese
  characters, and next to Chinese (full-width) punctuation, that space is wrong, so the break is
  removed; between a Chinese character and Latin text or inline math it stays a space (the
  spacing the sources use around Latin words and formulas).
* Straight double quotes around text that contains Chinese become Chinese quotes “…”, also when
  the quoted text spans several nodes (inline code or math inside the quotes). Sphinx's own
  "smart quotes" must be off for Chinese (``smartquotes = False``): after a Chinese character it
  takes an opening quote for a closing one. Quotes are curled before line breaks are judged, so a
  break after a closing quote counts as one after Chinese punctuation.
* Sources put spaces around markup for readability (``见 {doc}`setup` 与``, ``是 **猫**``). Once
  references are resolved, a space at the edge of such markup between two Chinese characters (or
  Chinese punctuation) is removed: "见实验设置与", never "见 实验设置 与". A space written inside
  one run of text is the author's and is left to ``tools/check_book.py`` to report; spaces next
  to code, math and Latin text stay.
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


def _text_pieces(block: nodes.Element) -> list[tuple[nodes.Text | None, str]]:
    """``block``'s text in document order: (Text node, its text) for text we may change, (None,
    stand-in) for code and math, whose text is opaque (the stand-in is one Latin letter)."""
    pieces: list[tuple[nodes.Text | None, str]] = []
    for node in block.findall(lambda n: isinstance(n, (nodes.Text, *SKIP))):
        if _in_skipped(node):
            continue
        pieces.append((node, str(node)) if isinstance(node, nodes.Text) else (None, "x"))
    return pieces


def _neighbour_char(pieces: list[tuple[nodes.Text | None, str]], i: int, step: int) -> str:
    """The first visible character after (step=1) or before (step=-1) piece ``i``."""
    j = i + step
    while 0 <= j < len(pieces):
        text = pieces[j][1]
        if text:
            return text[0] if step > 0 else text[-1]
        j += step
    return ""


def _cjk_or_punct(char: str) -> bool:
    return _is_cjk(char) or _is_cjk_punct(char)


def join_spaces_at_markup_edges(block: nodes.Element) -> None:
    """Remove the whitespace at the start or end of a Text node when the characters on both sides
    of it, one of them in a neighbouring node, are Chinese or Chinese punctuation."""
    pieces = _text_pieces(block)
    for i, (node, text) in enumerate(pieces):
        if node is None or node.parent is None or not text:
            continue
        new = text
        lead = re.match(r"[ \t\n]+", new)
        if lead and lead.end() < len(new) and _cjk_or_punct(new[lead.end()]) \
                and _cjk_or_punct(_neighbour_char(pieces, i, -1)):
            new = new[lead.end():]
        trail = re.search(r"[ \t\n]+$", new)
        if trail and trail.start() > 0 and _cjk_or_punct(new[trail.start() - 1]) \
                and _cjk_or_punct(_neighbour_char(pieces, i, 1)):
            new = new[:trail.start()]
        if new != text:
            replacement = nodes.Text(new)
            node.parent.replace(node, replacement)
            pieces[i] = (replacement, new)


def _nearest_text(siblings: list[nodes.Node], i: int, step: int) -> str:
    """The text of the nearest sibling of position ``i`` in direction ``step`` that has any
    (MyST leaves empty Text nodes between a line break and inline markup)."""
    j = i + step
    while 0 <= j < len(siblings):
        text = siblings[j].astext()
        if text:
            return text
        j += step
    return ""


def on_doctree_read(app: Sphinx | None, doctree: nodes.Node) -> None:
    for block in list(doctree.findall(lambda n: isinstance(n, BLOCKS))):
        if not _in_skipped(block):
            _curl_quotes_across_nodes(block)
    for text in list(doctree.findall(nodes.Text)):
        if text.parent is None or _in_skipped(text):
            continue
        if not str(text).strip() and "\n" in str(text):
            # MyST gives a soft line break its own Text node: drop it where it would be a stray space
            siblings = text.parent.children
            i = next(k for k, child in enumerate(siblings) if child is text)  # Text == compares strings
            before, after = _nearest_text(siblings, i, -1), _nearest_text(siblings, i, 1)
            if _break_is_wrong(before[-1:], after[:1]):
                del text.parent[i]  # by position: remove(text) would drop the first equal "\n" node
            continue
        fixed = join_breaks(str(text))
        if fixed != str(text):
            text.parent.replace(text, nodes.Text(fixed))


def on_doctree_resolved(app: Sphinx | None, doctree: nodes.Node, docname: str = "") -> None:
    for block in list(doctree.findall(lambda n: isinstance(n, BLOCKS))):
        if not _in_skipped(block) and not any(isinstance(a, BLOCKS) for a in _ancestors(block)):
            join_spaces_at_markup_edges(block)


def _ancestors(node: nodes.Node) -> list[nodes.Node]:
    found, parent = [], node.parent
    while parent is not None:
        found.append(parent)
        parent = parent.parent
    return found


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", on_doctree_read)
    app.connect("doctree-resolved", on_doctree_resolved)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
