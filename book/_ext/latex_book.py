"""Sphinx extension: the LaTeX document the PDF is set from (Sphinx's ``manual`` class with xeCJK).

sphinx-jupyterbook-latex (which turns the table of contents' captions into parts and the root page
into the front matter) also switches the LaTeX theme to its ``jupyterBook`` class and adds
``ucharclasses`` (and an English contents name, with babel's ``\addto``) to the preamble. Neither
suits this book: the class needs ``bbm.sty`` (only in the very large texlive-fonts-extra) and
fixes a 17.5 cm text width that ignores the paper size, and ``ucharclasses`` fights xeCJK over
the same XeTeX character classes. This extension, run after it, goes back to Sphinx's ``manual``
class, drops both preamble lines and defines the two environments the notebooks' cells are
wrapped in (``sphinxVerbatimInput`` / ``sphinxVerbatimOutput``) as plain
blocks. It also sets the headings in Chinese (第一部分, 第 3 章, also in the page marks) and puts the
root page's text, which comes before the first part, under an unnumbered chapter with its title.
Fonts, paper and margins are in ``_config.yml`` (``latex_elements``).
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config

CELL_ENVIRONMENTS = r"""
% notebook cells (sphinx-jupyterbook-latex wraps them in these): plain blocks
\newenvironment{sphinxVerbatimInput}{\par}{\par}
\newenvironment{sphinxVerbatimOutput}{\par}{\par}
"""
# Chinese headings: 第一部分 / 第 3 章 (in the heading, the page marks and the contents)
CHINESE_HEADINGS = r"""
\makeatletter
\def\@chapapp{第}\def\@chappos{章}
\renewcommand{\thepart}{\ifcase\value{part}\or 一\or 二\or 三\or 四\or 五\or 六\or 七\or 八\or 九\fi}
\titleformat{\part}[display]{\centering\normalfont\sffamily\bfseries\Huge}{第\thepart 部分}{20pt}{}
\titleformat{\chapter}[display]{\normalfont\sffamily\bfseries\huge}{\@chapapp\,\thechapter\,\@chappos}{14pt}{\Huge}
\makeatother
"""


def on_config_inited(app: Sphinx, config: Config) -> None:
    config.latex_theme = "manual"
    elements = dict(config.latex_elements)
    preamble = re.sub(r"\\usepackage\[[^\]]*\]\{ucharclasses\}\n?", "", elements.get("preamble", ""))
    # and its English contents name, set with babel's \addto (no babel here: xeCJK does Chinese)
    preamble = re.sub(r"\\addto\\captionsenglish\{[^\n]*\}\n?", "", preamble)
    elements["preamble"] = preamble + CELL_ENVIRONMENTS + CHINESE_HEADINGS
    elements["fncychap"] = ""  # its chapter heads print "CHAPTER 3"; titlesec sets them instead
    config.latex_elements = elements


def on_doctree_resolved(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """The root page's text comes before the first part, under no heading of its own: give it an
    unnumbered chapter with the page's title (in the contents and the page marks too)."""
    if app.builder.format != "latex" or docname != app.config.root_doc:
        return
    title = app.env.titles[docname].astext()
    heading = (r"\chapter*{%s}\addcontentsline{toc}{chapter}{%s}\markboth{%s}{%s}" % ((title,) * 4))
    doctree.insert(0, nodes.raw("", heading + "\n", format="latex"))


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx_jupyterbook_latex")  # its config-inited handler must run first
    app.connect("config-inited", on_config_inited, priority=900)
    app.connect("doctree-resolved", on_doctree_resolved)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
