"""Sphinx extension: figures and tables numbered per chapter (图 3.2, 表 3.1) in one caption style.

N is the chapter's number in the book and M counts the chapter's figures (or tables) in reading
order, across the pages a chapter includes (a method page is a section of the methods chapter).
Chapters are the root page's toctree entries in order, numbered 1, 2, ... across the parts, as
the PDF numbers them (the root page is the PDF's unnumbered front matter, and ``\\part`` does not
restart LaTeX's chapter counter).

What is numbered, in each page's order:

* a figure with a caption (``glue:figure``, a ``figure`` directive, a notebook figure's metadata)
  and a table with a title;
* (HTML) a chapter page's title gets "第 N 章" before it, as in the PDF;
* a caption paragraph, how notebooks and Markdown pages caption an output or a pipe table:
  ``**图**　text`` (after a figure) or ``**表**　text`` (before a table): a bold 图/表 alone, then
  the text. In HTML it is set like Sphinx's figure captions (``caption-number`` and
  ``caption-text`` spans, styled in ``_static/tables.css``); ``latex_tables`` turns a table caption
  into the LaTeX table's title, which is then numbered as a titled table.

HTML: the numbers replace Sphinx's own (``env.toc_fignumbers``, so ``{numref}`` agrees) and are
written into the caption paragraphs. LaTeX: the numbers are set explicitly before each caption
(``\\thefigure``/``\\thetable``), so the PDF shows the same 图 N.M as the HTML whatever LaTeX's
counters would say. A table caption paragraph that stays a paragraph (a Markdown page's pipe table)
is kept on the page of its table: room for it and the table's first rows is asked for before it
(``\\needspace``) and no page break is allowed between it and the table (``\\nopagebreak``). A page
whose items at write time differ from those counted at read time is reported as a warning (an
error under ``-W``).
"""

from __future__ import annotations

from typing import Any, Iterator

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)

LABELS = {"figure": "图", "table": "表"}
KINDS = {label: kind for kind, label in LABELS.items()}
CAPTION_SPACE = " \u3000\u00a0\t\n"


def _meaningful(children: list[nodes.Node]) -> list[nodes.Node]:
    return [c for c in children if not (isinstance(c, nodes.Text) and not c.astext().strip())]


def caption_kind(node: nodes.Node) -> str | None:
    """"figure" or "table" when ``node`` is a numbered item (see the module docstring), else None."""
    if isinstance(node, nodes.figure):
        return "figure" if any(isinstance(c, nodes.caption) for c in node.children) else None
    if isinstance(node, nodes.table):
        return "table" if any(isinstance(c, nodes.title) for c in node.children) else None
    if isinstance(node, nodes.paragraph) and not isinstance(node.parent, (nodes.caption, nodes.entry)):
        children = _meaningful(node.children)
        if len(children) >= 2 and isinstance(children[0], nodes.strong) and children[0].astext() in KINDS:
            return KINDS[children[0].astext()]
    return None


def caption_items(tree: nodes.Node) -> Iterator[tuple[str, nodes.Element]]:
    """The numbered items under ``tree`` as (kind, node), in reading order."""
    for node in tree.findall(nodes.Element):
        kind = caption_kind(node)
        if kind is not None:
            yield kind, node


def chapter_numbers(root: str, includes: dict[str, list[str]]) -> dict[str, int]:
    """Each page's chapter number: the root's toctree entries are chapters 1, 2, ... and every page
    under one (its sections, their sections) has that chapter's number; the root has 0."""
    chapters = {root: 0}

    def under(docname: str, number: int) -> None:
        for child in includes.get(docname, []):
            if child not in chapters:
                chapters[child] = number
                under(child, number)

    for number, chapter in enumerate(includes.get(root, []), start=1):
        if chapter not in chapters:
            chapters[chapter] = number
            under(chapter, number)
    return chapters


def reading_order(root: str, includes: dict[str, list[str]]) -> list[str]:
    """Every page reachable from ``root`` through the toctrees, depth first (the PDF's order)."""
    order: list[str] = []

    def visit(docname: str) -> None:
        if docname in order:
            return
        order.append(docname)
        for child in includes.get(docname, []):
            visit(child)

    visit(root)
    return order


class Counter:
    """Per-chapter counters of figures and tables: :meth:`next` gives (chapter, number)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, str], int] = {}

    def next(self, chapter: int, kind: str) -> tuple[int, ...]:
        key = (chapter, kind)
        self.counts[key] = self.counts.get(key, 0) + 1
        return (chapter, self.counts[key]) if chapter else (self.counts[key],)


def number_text(kind: str, numbers: tuple[int, ...]) -> str:
    """``("figure", (3, 2))`` -> ``"图 3.2"``."""
    return f"{LABELS[kind]} {'.'.join(map(str, numbers))}"


def assign_numbers(order: list[str], chapters: dict[str, int],
                   items: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[int, ...]]]:
    """The numbers of every page's items (``items``: page -> [(kind, id)] in its order)."""
    counter = Counter()
    return {doc: [counter.next(chapters.get(doc, 0), kind) for kind, _ in items.get(doc, [])]
            for doc in order}


def set_caption_paragraph(paragraph: nodes.paragraph, kind: str, numbers: tuple[int, ...], html: bool) -> None:
    """Write the number into a caption paragraph (the bold 图/表 becomes 图 N.M) in the caption style."""
    children = _meaningful(paragraph.children)[1:]
    if children and isinstance(children[0], nodes.Text):
        children[0] = nodes.Text(str(children[0]).lstrip(CAPTION_SPACE))
    label = number_text(kind, numbers)
    paragraph.children = []
    paragraph["classes"] += ["caption", "book-caption", f"book-caption-{kind}"]
    if html:
        paragraph += nodes.inline("", label + " ", classes=["caption-number"])
        text = nodes.inline("", "", classes=["caption-text"])
        text.extend(children)
        paragraph += text
    else:
        paragraph += nodes.strong(label, label)
        paragraph += nodes.Text("\u3000")
        paragraph.extend(children)
    for child in paragraph.children:
        child.parent = paragraph


# --------------------------------------------------------------------------- Sphinx events


def on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    """Record the page's items; a captioned figure or table without an id gets one (Sphinx keys
    its numbers by id)."""
    env = app.env
    found = []
    for i, (kind, node) in enumerate(caption_items(doctree)):
        if isinstance(node, (nodes.figure, nodes.table)) and not node["ids"]:
            node["ids"].append(f"book-{kind}-{i + 1}")
        found.append((kind, node["ids"][0] if isinstance(node, (nodes.figure, nodes.table)) else ""))
    if not hasattr(env, "book_captions"):
        env.book_captions = {}
    env.book_captions[env.docname] = found


def on_purge_doc(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    getattr(env, "book_captions", {}).pop(docname, None)


def on_merge_info(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    if not hasattr(env, "book_captions"):
        env.book_captions = {}
    for docname in docnames:
        env.book_captions[docname] = getattr(other, "book_captions", {}).get(docname, [])


def _numbers(env: BuildEnvironment) -> tuple[dict[str, int], dict[str, list[tuple[int, ...]]]]:
    root = env.config.root_doc
    chapters = chapter_numbers(root, env.toctree_includes)
    order = reading_order(root, env.toctree_includes)
    return chapters, assign_numbers(order, chapters, getattr(env, "book_captions", {}))


def on_env_get_updated(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Replace Sphinx's figure and table numbers by the per-chapter ones (HTML and references).
    Runs after Sphinx's toctree collector, which renumbers on this event in every build."""
    _, numbers = _numbers(env)
    fignumbers: dict[str, dict[str, dict[str, tuple[int, ...]]]] = {}
    for doc, labels in numbers.items():
        for (kind, node_id), number in zip(env.book_captions.get(doc, []), labels):
            if node_id:
                fignumbers.setdefault(doc, {}).setdefault(kind, {})[node_id] = number
    env.toc_fignumbers = fignumbers
    return []


# LaTeX around a table caption paragraph: the caption, the header and a few rows must fit below it,
# else it starts the next page; the paragraph ends before the table starts, with no break between
KEEP_WITH_TABLE = (r"\par\needspace{6\baselineskip}" + "\n", "\n" + r"\par\nopagebreak" + "\n")


def keep_with_table(paragraph: nodes.paragraph, parent: nodes.Element) -> None:
    """LaTeX: keep a table caption paragraph on the page of the table after it (see KEEP_WITH_TABLE)."""
    index = parent.children.index(paragraph)
    parent.insert(index + 1, nodes.raw("", KEEP_WITH_TABLE[1], format="latex"))
    parent.insert(index, nodes.raw("", KEEP_WITH_TABLE[0], format="latex"))


def latex_items(tree: nodes.Element, docname: str) -> Iterator[tuple[str, nodes.Element, nodes.Element, str]]:
    """The numbered items of the LaTeX build's one tree as (kind, node, parent, page), in reading
    order. Walked from the top, not up through ``.parent``: sphinx-jupyterbook-latex rebuilds
    nodes around the pages without updating their children's parent links. A page starts at its
    ``start_of_file`` node or at a section Sphinx marked with its ``docname``."""
    for child in list(tree.children):
        if not isinstance(child, nodes.Element):
            continue
        page = docname
        if isinstance(child, addnodes.start_of_file) or (isinstance(child, nodes.section) and child.get("docname")):
            page = child["docname"]
        kind = caption_kind(child)
        if kind is not None:
            yield kind, child, tree, page
        yield from latex_items(child, page)


def label_chapter(doctree: nodes.document, chapter: int) -> None:
    """HTML: "第 N 章" before a chapter page's title, as the PDF heads it, so that 图 N.M can be
    traced to its chapter (a span, styled apart in ``_static/tables.css``: no space in the text)."""
    title = next(iter(doctree.findall(nodes.title)), None)
    if title is not None and not any("chapter-number" in c.get("classes", []) for c in title.children
                                     if isinstance(c, nodes.Element)):
        title.insert(0, nodes.inline("", f"第 {chapter} 章", classes=["chapter-number"]))


def on_doctree_resolved(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """HTML: number the caption paragraphs of ``docname``. LaTeX (the whole book as one tree):
    set each figure's and table's number explicitly and number the caption paragraphs."""
    env = app.env
    if app.builder.format == "latex":
        chapters, _ = _numbers(env)
        counter = Counter()
        for kind, node, parent, page in list(latex_items(doctree, docname)):
            number = counter.next(chapters.get(page, 0), kind)
            if isinstance(node, nodes.paragraph):
                set_caption_paragraph(node, kind, number, html=False)
                if kind == "table":
                    keep_with_table(node, parent)
            else:
                command = r"\renewcommand{\the%s}{%s}" % (kind, ".".join(map(str, number)))
                parent.insert(parent.children.index(node), nodes.raw("", command + "\n", format="latex"))
        return
    if app.builder.format != "html":
        return
    chapters, numbers = _numbers(env)
    if docname in env.toctree_includes.get(env.config.root_doc, []):
        label_chapter(doctree, chapters[docname])
    items = list(caption_items(doctree))
    expected = numbers.get(docname, [])
    if len(items) != len(expected):
        logger.warning(f"numbering: {docname} has {len(items)} captioned figures/tables when written but "
                       f"{len(expected)} when read; its numbers would be wrong", location=docname)
        return
    for (kind, node), number in zip(items, expected):
        if isinstance(node, nodes.paragraph):
            set_caption_paragraph(node, kind, number, html=True)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", on_doctree_read)
    app.connect("env-purge-doc", on_purge_doc)
    app.connect("env-merge-info", on_merge_info)
    app.connect("env-get-updated", on_env_get_updated, priority=900)
    app.add_latex_package("caption", "labelsep=quad,labelfont=bf")  # 图 3.1　…, as the caption paragraphs
    app.connect("doctree-resolved", on_doctree_resolved)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
