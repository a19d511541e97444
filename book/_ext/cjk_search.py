"""Sphinx extension: HTML search that finds every Chinese term on a page.

Sphinx's Chinese search indexes the words jieba cuts, and the search box looks a query up as one
term, so a phrase is found only where jieba happened to cut exactly that phrase. This extension
indexes Chinese the way CJK search engines do, by overlapping character bigrams:

* Index: every run of Han characters in a block of text (a paragraph, title, table cell, ...)
  adds each two-character window to the index (层缩放 -> 层缩, 缩放). A block's text is taken
  whole, so a term split over bold text, a link or a wrapped line is still indexed; math is left
  out. Latin words are indexed as Sphinx's Chinese search does (``[a-zA-Z0-9_]+``, stemmed).
* Query: the page's JavaScript (``splitQuery`` in ``language_data.js``) splits a query the same
  way, and Sphinx requires every term, so a page is found when it holds every bigram of each Han
  run of the query. Any Han term of two or more characters on a page therefore finds that page.

``book/_static/cjk_search.js`` centres each result's snippet on the phrase searched for and
shows formulas as plain text instead of raw LaTeX. :func:`query_terms` and :func:`search` are the
Python mirror of the page's JavaScript, used by the tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import snowballstemmer
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.search.zh import SearchChinese, english_stopwords

HAN_CLASS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs (BMP), same class in JS
HAN_RUN = re.compile(f"[{HAN_CLASS}]+")
LATIN_WORD = re.compile(r"[a-zA-Z0-9_]+")
NGRAM = 2
STOPWORDS = frozenset(english_stopwords)

# The query splitter of the search page, in language_data.js (it replaces Sphinx's default
# splitQuery, which would keep a whole Han run as one term).
JS_SPLITTER = r"""
/* Chinese n-gram search (book/_ext/cjk_search.py): a query's Han runs become their overlapping
   character bigrams, as the index stores them; a lone Han character is kept only when it is the
   whole query. Latin words are split as Sphinx does. */
var splitQuery = (query) => {
  const han = /[%HAN%]/u;
  const terms = [];
  for (const word of query.split(/[^\p{Letter}\p{Number}_\p{Emoji_Presentation}]+/gu)) {
    for (const piece of word.split(/([%HAN%]+)/u)) {
      if (!piece) continue;
      if (!han.test(piece)) { terms.push(piece); continue; }
      if (piece.length === 1) { terms.push(piece); continue; }
      for (let i = 0; i + %N% <= piece.length; i++) terms.push(piece.slice(i, i + %N%));
    }
  }
  const long = terms.filter((t) => !(t.length === 1 && han.test(t)));
  return long.length ? long : terms;
};
""".replace("%HAN%", HAN_CLASS).replace("%N%", str(NGRAM))

# blocks whose text is indexed as one string; math inside them is skipped
BLOCKS = (nodes.paragraph, nodes.title, nodes.caption, nodes.term, nodes.rubric, nodes.line,
          nodes.subtitle, nodes.attribution)
MATH = (nodes.math, nodes.math_block)


def han_ngrams(text: str, n: int = NGRAM) -> list[str]:
    """Every ``n``-character window of each run of Han characters in ``text`` (a run shorter
    than ``n`` gives nothing: single characters are not indexed)."""
    grams = []
    for run in HAN_RUN.findall(text):
        grams.extend(run[i:i + n] for i in range(len(run) - n + 1))
    return grams


class SearchChineseNgrams(SearchChinese):
    """Sphinx's Chinese search language with Han bigrams instead of jieba words (see module doc)."""

    js_splitter_code = JS_SPLITTER

    def init(self, options: dict[str, str]) -> None:
        self.stemmer = snowballstemmer.stemmer("english")
        self.latin_words: set[str] = set()

    def split(self, input: str) -> list[str]:  # noqa: A002 (Sphinx's parameter name)
        latin = LATIN_WORD.findall(input)
        self.latin_words.update(latin)
        return han_ngrams(input) + latin

    def stem(self, word: str) -> str:
        # as Sphinx's Chinese search: a Latin acronym the stemmer would cut below 3 letters stays whole
        if word in self.latin_words and len(word) >= 3 and len(self.stemmer.stemWord(word.lower())) < 3:
            return word.lower()
        return self.stemmer.stemWord(word.lower())


def _block_text(block: nodes.Element) -> str:
    """The text of ``block`` without its math, joined across inline nodes."""
    parts = []
    for node in block.findall(nodes.Text):
        parent = node.parent
        while parent is not None and parent is not block and not isinstance(parent, MATH):
            parent = parent.parent
        if not isinstance(parent, MATH):
            parts.append(node.astext())
    return "".join(parts)


def index_copy(doctree: nodes.document) -> nodes.document:
    """A copy of ``doctree`` for the indexer: each block's text as one Text node (so a Han term
    split over inline nodes is seen whole) and math removed (formulas are not words)."""
    copy = doctree.deepcopy()
    for block in list(copy.findall(lambda n: isinstance(n, BLOCKS))):
        if any(isinstance(a, BLOCKS) for a in _ancestors(block)):
            continue  # inside a block already joined
        text = _block_text(block)
        del block[:]
        block += nodes.Text(text)
    for math in list(copy.findall(nodes.math_block)):
        math.parent.remove(math)
    return copy


def _ancestors(node: nodes.Node) -> Iterable[nodes.Node]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _index_whole_blocks(index_page: Callable[..., None]) -> Callable[..., None]:
    def index_page_with_whole_blocks(pagename: str, doctree: nodes.document, title: str) -> None:
        index_page(pagename, index_copy(doctree), title)
    return index_page_with_whole_blocks


def on_builder_inited(app: Sphinx) -> None:
    if hasattr(app.builder, "index_page") and app.config.language.startswith("zh"):
        app.builder.index_page = _index_whole_blocks(app.builder.index_page)


# ----------------------------------------------------------------- the page's query, in Python


def query_terms(query: str) -> list[str]:
    """The terms the search page looks up for ``query``: ``splitQuery`` (:data:`JS_SPLITTER`),
    then Sphinx's lower-casing and Porter stemming (which leaves Han terms as they are)."""
    terms = []
    for word in re.split(r"[^\w]+", query.strip()):
        for piece in re.split(f"([{HAN_CLASS}]+)", word):
            if not piece:
                continue
            if not HAN_RUN.fullmatch(piece) or len(piece) == 1:
                terms.append(piece)
            else:
                terms.extend(piece[i:i + NGRAM] for i in range(len(piece) - NGRAM + 1))
    long = [t for t in terms if not (len(t) == 1 and HAN_RUN.fullmatch(t))]
    stemmer = snowballstemmer.stemmer("porter")
    return [stemmer.stemWord(t.lower()) for t in (long or terms)]


def search(index: dict[str, Any], query: str) -> list[str]:
    """The pages (docnames) the search page lists for ``query`` from its full-text terms, step by
    step as Sphinx 7's ``Search._parseQuery`` and ``performTermsSearch`` do: stop words and pure
    numbers are dropped; a term is looked up exactly in the text and title terms and, when longer
    than two characters and absent, inside longer terms; a page is listed when it matched every
    term (or as many terms as there are terms longer than two characters)."""
    terms = [t for t in dict.fromkeys(query_terms(query))
             if t not in STOPWORDS and not t.isdigit()]
    matched: dict[int, set[str]] = {}
    for term in terms:
        for table in (index["terms"], index["titleterms"]):
            keys = [term] if term in table else [k for k in table if term in k] if len(term) > 2 else []
            for key in keys:
                found = table[key]
                for page in [found] if isinstance(found, int) else found:
                    matched.setdefault(page, set()).add(term)
    long_terms = sum(len(t) > 2 for t in terms)
    return sorted(index["docnames"][page] for page, words in matched.items()
                  if len(words) in (len(terms), long_terms))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_search_language(SearchChineseNgrams)
    app.connect("builder-inited", on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
