"""Sphinx extension: the notebooks' HTML tables as real LaTeX tables that fit the printed page.

A notebook shows a table as HTML (a pandas Styler or DataFrame), which the LaTeX builder cannot
use: myst-nb would fall back to the plain-text repr, a monospaced block cut at the right margin.
For LaTeX builds this post-transform turns each such output into a docutils table before myst-nb
picks a MIME type, and chooses how it is set:

* it fits: natural-width columns, text columns left-aligned and numeric ones right-aligned;
* it is too wide: wrapping columns, widths after the content (numbers never wrap), in a smaller
  font; wider still: on a landscape page;
* it is long: a ``longtable`` (every table is one), so it breaks across pages with its header
  repeated;
* it is a single record too wide for the page (one row, many columns): it is printed on its side,
  one row per column;
* the notebooks caption a table with a paragraph "**表**　…" displayed just before it: that
  paragraph becomes the table's title, so the table is numbered (表 3.1) like a figure.

Widths are estimated in "units" of half an em: a Han or full-width character is two units, any
other character one.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

NUMBER = re.compile(r"^[+\-−–<>≤≥]?(\d[\d,]*(\.\d+)?|\.\d+)\s*(%|[kKMG]|×)?$|^[—–-]$|^$")
TEXT_WIDTH_PT = 455      # \textwidth (16 cm, the geometry in _config.yml's latex_elements)
TEXT_HEIGHT_PT = 680     # \textheight (24.7 cm less the footer): the line width on a landscape page
# the type sizes tried, largest first: (command, size in pt in an 11 pt document, \tabcolsep in pt)
SIZES = ((r"\small", 10.0, 6.0), (r"\footnotesize", 9.0, 4.0))
MIN_TEXT = 8             # a text column wraps no narrower than this many units (four Han characters)


# --------------------------------------------------------------------------- reading the HTML


@dataclass
class Cell:
    text: str
    header: bool
    colspan: int = 1
    rowspan: int = 1


@dataclass
class ParsedTable:
    head: list[list[Cell]] = field(default_factory=list)
    body: list[list[Cell]] = field(default_factory=list)
    caption: str = ""
    left_columns: set[int] = field(default_factory=set)  # columns the Styler's CSS aligns left


class _TableParser(HTMLParser):
    """Collects the first ``<table>`` of an HTML fragment (cells as plain text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.table = ParsedTable()
        self.section = "body"
        self.row: list[Cell] | None = None
        self.cell: Cell | None = None
        self.in_caption = False
        self.in_style = False
        self.style = ""
        self.depth = 0  # nested tables are flattened into their cell's text
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        a = dict(attrs)
        if tag == "style":
            self.in_style = True
        elif tag == "table":
            self.depth += 1
        elif self.depth != 1:
            return
        elif tag == "thead":
            self.section = "head"
        elif tag == "tbody":
            self.section = "body"
        elif tag == "caption":
            self.in_caption = True
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = Cell("", tag == "th", _span(a.get("colspan")), _span(a.get("rowspan")))
        elif tag == "br" and self.cell is not None:
            self.cell.text += " "

    def handle_endtag(self, tag: str) -> None:
        if self.done:
            return
        if tag == "style":
            self.in_style = False
        elif tag == "table":
            self.depth -= 1
            self.done = self.depth == 0
        elif self.depth != 1:
            return
        elif tag == "thead":
            self.section = "body"
        elif tag == "caption":
            self.in_caption = False
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.cell.text = " ".join(self.cell.text.split())
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            (self.table.head if self.section == "head" else self.table.body).append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.style += data
        elif self.cell is not None:
            self.cell.text += data
        elif self.in_caption:
            self.table.caption += data


def _span(value: str | None) -> int:
    return int(value) if value and value.isdigit() and int(value) > 0 else 1


def left_aligned_columns(css: str) -> set[int]:
    """Columns a pandas Styler's CSS sets ``text-align: left`` (selectors ``#T_x_rowN_colM``)."""
    left: set[int] = set()
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        if re.search(r"text-align\s*:\s*left", body):
            left.update(int(c) for c in re.findall(r"_col(\d+)\b", selectors))
    return left


def parse_table(html: str) -> ParsedTable | None:
    """The first table of ``html``, or None when there is none (or it has no cells)."""
    if "<table" not in html:
        return None
    parser = _TableParser()
    parser.feed(html)
    table = parser.table
    table.left_columns = left_aligned_columns(parser.style)
    table.caption = " ".join(table.caption.split())
    if not any(table.head + table.body):
        return None
    return table


# --------------------------------------------------------------------------- layout


def units(text: str) -> int:
    """Printed width of ``text`` in half-em units (wide characters count two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def grid(rows: list[list[Cell]], ncols: int) -> list[list[Cell | None]]:
    """Rows as a rectangular grid: a spanned-over position holds None."""
    out: list[list[Cell | None]] = []
    pending: dict[tuple[int, int], bool] = {}
    for r, row in enumerate(rows):
        line: list[Cell | None] = []
        cells = iter(row)
        c = 0
        while c < ncols:
            if pending.pop((r, c), False):
                line.append(None)
                c += 1
                continue
            cell = next(cells, None)
            if cell is None:
                line.append(Cell("", False))
                c += 1
                continue
            line.append(cell)
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    if dr or dc:
                        pending[(r + dr, c + dc)] = True
            line.extend([None] * (cell.colspan - 1))
            c += cell.colspan
        out.append(line[:ncols])
    return out


def column_count(table: ParsedTable) -> int:
    return max(sum(c.colspan for c in row) for row in table.head + table.body)


@dataclass
class Layout:
    colspec: str        # the LaTeX column specification
    fontsize: str       # \small or \footnotesize
    colsep: float       # \tabcolsep in pt
    landscape: bool
    widths: list[int]   # the units given to each column


def is_numeric(cells: list[str]) -> bool:
    """Every non-empty cell is a number or an interval of numbers (``[-4.01, -3.45]``)."""
    values = [c.strip() for c in cells if c.strip()]
    return bool(values) and all(
        all(NUMBER.match(part) or part in "<>≤≥" for part in re.split(r"[\s,\[\]()]+", v) if part)
        for v in values)


def unbreakable(text: str) -> int:
    """Units of the widest part of ``text`` a line cannot break inside: a run of Latin letters,
    digits and signs (LaTeX breaks at spaces, and xeCJK next to any Han or full-width character)."""
    runs = re.split(r"\s+|(?<=[\u3000-\u303f\u3400-\u9fff\uff00-\uffef])|(?=[\u3000-\u303f\u3400-\u9fff\uff00-\uffef])", text)
    return max([units(r) for r in runs if r] + [1])


def fits(table: ParsedTable) -> bool:
    """Whether ``table`` fits the text width with natural columns in the smallest type tried."""
    ncols = column_count(table)
    rows = grid(table.head + table.body, ncols)
    natural = [max([units(r[c].text) for r in rows if r[c] is not None and r[c].colspan == 1] + [1])
               for c in range(ncols)]
    size, point, colsep = SIZES[-1]
    return sum(natural) <= _room(TEXT_WIDTH_PT, point, ncols, colsep)


def transposed(table: ParsedTable) -> ParsedTable:
    """A one-row table with a one-row header as a two-column key/value table (column, value)."""
    keys, values = table.head[0], table.body[0]
    rows = [[Cell(k.text, True), Cell(v.text, False)] for k, v in zip(keys, values)]
    return ParsedTable(head=[[Cell("项", True), Cell("值", True)]], body=rows, caption=table.caption,
                       left_columns={0, 1})


def for_print(table: ParsedTable) -> ParsedTable:
    """``table`` as it is printed: a single record too wide for the page is turned on its side
    (one row per column), every other table as it is."""
    simple = len(table.head) == 1 and len(table.body) == 1 and all(
        c.colspan == 1 and c.rowspan == 1 for c in table.head[0] + table.body[0])
    if simple and len(table.head[0]) == len(table.body[0]) and not fits(table):
        return transposed(table)
    return table


def _room(width_pt: float, point: float, ncols: int, colsep: float) -> float:
    """Units available for the cells of ``ncols`` columns across ``width_pt`` at ``point`` size."""
    return (width_pt - 2 * colsep * ncols) / (point / 2)


def layout(table: ParsedTable) -> Layout:
    """How to set ``table`` (see the module docstring): natural columns in the largest type that
    fits; else wrapping columns, each at least as wide as its widest unbreakable word (and wide
    enough for its header in two lines), sharing the room the others leave; else the same on a
    landscape page."""
    ncols = column_count(table)
    body = grid(table.body, ncols)
    head = grid(table.head, ncols)
    columns = [[row[c].text for row in body if row[c] is not None] for c in range(ncols)]
    headers = [[row[c].text for row in head if row[c] is not None and row[c].colspan == 1] for c in range(ncols)]
    numeric = [is_numeric(col) and c not in table.left_columns for c, col in enumerate(columns)]
    single = [[row[c].text for row in body if row[c] is not None and row[c].colspan == 1] + headers[c]
              for c in range(ncols)]
    natural = [max([units(t) for t in cells] + [1]) for cells in single]
    for size, point, colsep in SIZES:
        if sum(natural) <= _room(TEXT_WIDTH_PT, point, ncols, colsep):
            spec = "".join(r"r" if num else r"l" for num in numeric)
            return Layout(spec, size, colsep, False, natural)
    size, point, colsep = SIZES[-1]
    minimum = []
    for c in range(ncols):
        two_lines = [2 * math.ceil(units(h) / 4) for h in headers[c]]  # a header in two lines
        if numeric[c]:  # numbers never wrap
            floor = max([units(t) for t in columns[c]] + [unbreakable(h) for h in headers[c]] + two_lines)
        else:
            floor = min(natural[c], max([unbreakable(t) for t in single[c]] + [MIN_TEXT] + two_lines))
        minimum.append(floor)
    landscape = sum(minimum) > _room(TEXT_WIDTH_PT, point, ncols, colsep)
    room = _room(TEXT_HEIGHT_PT if landscape else TEXT_WIDTH_PT, point, ncols, colsep)
    widths = list(minimum)
    slack = {c: natural[c] - minimum[c] for c in range(ncols) if natural[c] > minimum[c]}
    spare = room - sum(minimum)
    while slack and spare >= 1:
        # share the spare room by the square root of what each column would still like; a column
        # that reaches its natural width drops out and what it leaves goes round again
        weights = {c: math.sqrt(v) for c, v in slack.items()}
        total = sum(weights.values())
        given = {c: min(v, max(1, int(spare * weights[c] / total))) for c, v in slack.items()}
        for c, add in given.items():
            add = min(add, int(spare))
            widths[c] += add
            spare -= add
            slack[c] -= add
        slack = {c: v for c, v in slack.items() if v > 0}
    specs = []
    for c in range(ncols):
        if widths[c] >= natural[c]:
            specs.append("r" if numeric[c] else "l")  # fits on one line
        else:
            align = r"\raggedleft" if numeric[c] else r"\raggedright"
            specs.append(r">{%s\arraybackslash}p{%.1fem}" % (align, widths[c] / 2))
    return Layout("".join(specs), size, colsep, landscape, widths)


# --------------------------------------------------------------------------- docutils nodes


def to_docutils(table: ParsedTable, plan: Layout) -> list[nodes.Node]:
    """The docutils nodes for ``table``: raw LaTeX around a ``longtable`` with its column spec."""
    ncols = column_count(table)
    tnode = nodes.table(classes=["longtable", "nb-html-table"])
    if table.caption:
        tnode += nodes.title(table.caption, table.caption)
    group = nodes.tgroup(cols=ncols)
    tnode += group
    for width in plan.widths:
        group += nodes.colspec(colwidth=max(width, 1))
    for section, rows in (("head", table.head), ("body", table.body)):
        if not rows:
            continue
        part = nodes.thead() if section == "head" else nodes.tbody()
        for row in rows:
            rnode = nodes.row()
            for cell in row:
                entry = nodes.entry()
                if cell.colspan > 1:
                    entry["morecols"] = cell.colspan - 1
                if cell.rowspan > 1:
                    entry["morerows"] = cell.rowspan - 1
                entry += nodes.paragraph(cell.text, cell.text)
                rnode += entry
            part += rnode
        group += part
    if not table.head and table.body:  # the first row is the header when there is no <thead>
        tbody = group.children[-1]
        first = tbody.children[0]
        tbody.remove(first)
        thead = nodes.thead()
        thead += first
        group.insert(len(group.children) - 1, thead)
    begin = (r"\begingroup" + plan.fontsize + r"\setlength{\tabcolsep}{%gpt}" % plan.colsep
             + (r"\begin{landscape}" if plan.landscape else ""))
    end = (r"\end{landscape}" if plan.landscape else "") + r"\endgroup"
    spec = addnodes.tabular_col_spec()
    spec["spec"] = plan.colspec
    return [nodes.raw("", begin + "\n", format="latex"), spec, tnode,
            nodes.raw("", end + "\n", format="latex")]


def _html_of(node: nodes.Element) -> str | None:
    """The HTML of a myst-nb MIME bundle's text/html output, if it has one."""
    for child in node.children:
        if isinstance(child, nodes.Element) and child.get("mime_type") == "text/html":
            return "".join(raw.astext() for raw in child.findall(nodes.raw))
    return None


CAPTION = re.compile(r"^表[\s\u3000]+")
# an untitled longtable has no number of its own: its "continued" line must not show another's
UNTITLED_CONTINUED = (r"\renewcommand*{\sphinxtablecontinued}[1]{\footnotesize\begingroup"
                      r"\def\tablename{}\def\thetable{}\def\textendash{}#1\endgroup}")


def _caption_before(bundle: nodes.Element) -> tuple[nodes.paragraph, nodes.Element] | None:
    """The caption paragraph of ``bundle``'s table and the node to remove with it: a Markdown
    output of the same cell just before the table (how the notebooks display a caption), else a
    paragraph just before the cell."""
    index = bundle.parent.index(bundle)
    if index > 0 and bundle.parent[index - 1].get("nb_element") == "mime_bundle":
        before = bundle.parent[index - 1]
        for output in before.children:
            if output.get("mime_type") == "text/markdown" and len(output.children) == 1 \
                    and isinstance(output[0], nodes.paragraph) and CAPTION.match(output[0].astext()):
                return output[0], before
    cell = bundle
    while cell.parent is not None and "cell" not in cell.get("classes", []):
        cell = cell.parent
    if cell.parent is None:
        return None
    index = cell.parent.index(cell)
    before = cell.parent[index - 1] if index > 0 else None
    if isinstance(before, nodes.paragraph) and CAPTION.match(before.astext()):
        return before, before
    return None


def adopt_caption(bundle: nodes.Element) -> nodes.title | None:
    """The caption the notebooks write as a paragraph "**表**　…" just before a table, as the
    table's title (the paragraph is removed); None when the table has no such caption."""
    found = _caption_before(bundle)
    if found is None:
        return None
    paragraph, remove = found
    children = [c for c in paragraph.children if c.astext()]  # MyST leaves empty Text nodes
    bold_label = bool(children) and isinstance(children[0], nodes.strong) and children[0].astext() == "表"
    title = nodes.title()
    for child in children[1:] if bold_label else children:
        title += child.deepcopy()
    first = next(iter(title.findall(nodes.Text)), None)
    if first is not None:
        text = str(first) if bold_label else CAPTION.sub("", str(first))
        first.parent.replace(first, nodes.Text(text.lstrip(" \u3000")))
    remove.parent.remove(remove)
    return title


class HtmlTablesToLatex(SphinxPostTransform):
    """For LaTeX builds: notebook outputs holding an HTML table become LaTeX tables."""

    default_priority = 3  # before myst-nb's SelectMimeType (4) drops the HTML
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        bundles = [n for n in self.document.findall(nodes.container)
                   if n.get("nb_element") == "mime_bundle"]
        for bundle in bundles:
            html = _html_of(bundle)
            table = parse_table(html) if html else None
            if table is None:
                continue
            table = for_print(table)
            title = None if table.caption else adopt_caption(bundle)
            new = to_docutils(table, layout(table))
            tnode = next(n for n in new if isinstance(n, nodes.table))
            if title is not None:
                tnode.insert(0, title)
            if not tnode.children or not isinstance(tnode[0], nodes.title):
                new[0] = nodes.raw("", new[0].astext().rstrip("\n") + UNTITLED_CONTINUED + "\n", format="latex")
            bundle.replace_self(new)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_post_transform(HtmlTablesToLatex)
    app.add_latex_package("pdflscape")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
