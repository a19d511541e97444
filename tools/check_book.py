"""Open every page of the built book in headless Chromium, fail on visible problems, save screenshots.

Usage (from the repository root)::

    python tools/check_book.py            # build the book first (jupyter-book, warnings are errors)
    python tools/check_book.py --no-build # check an existing book/_build/html
    python tools/check_book.py --shots /tmp/book_shots

Needs Debian's Chromium and a CJK font (as root: apt-get install -y chromium fonts-noto-cjk).
A page fails when an <img> did not load, a table is wider than the page (1280 px window; not on
the archived run pages), a traceback or a Python warning is visible, TeX math was left
unrendered (raw ``$...$`` / ``\\(`` in the visible text, or MathJax error nodes), or the page's
HTML has a bare ``<`` that starts no tag (text written into HTML unescaped), or the page is wider
than a 390 px (phone) window so that the whole page scrolls sideways (the narrow pass, every page
but the run pages, in a 390 px iframe; ``--no-narrow`` skips it), or its Chinese text
breaks the typography rules (:func:`typography_problems`: spaces between Han characters or next to
full-width punctuation, ASCII quotes and half-width punctuation in Chinese, nested full-width
brackets, English sentences outside code). ``--no-browser`` runs only the checks read from the
HTML files (markup and typography).
Screenshots are written outside the repository (default: a folder under the system temp dir).
"""

from __future__ import annotations

import argparse
import http.server
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from functools import partial
from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote

REPO = Path(__file__).resolve().parent.parent
WINDOW = (1280, 900)
# tables that stick out of the page or of a scrolling box clipping them: columns a reader cannot see;
# every such problem starts with WIDE_TABLE, which is how archived_layout recognises the kind
WIDE_TABLE = "wide table"
WIDE_TABLES_JS = r"""
() => {
  const wide = [];
  for (const table of document.querySelectorAll('main table')) {
    let box = table.parentElement;
    while (box && box !== document.body && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    const limit = Math.min(window.innerWidth, box ? box.getBoundingClientRect().right : window.innerWidth);
    const over = Math.round(table.getBoundingClientRect().right - limit);
    if (over > 1) {
      const cells = [...table.querySelectorAll('th, td')].slice(0, 3).map((c) => c.textContent.trim());
      wide.push(`%WIDE_TABLE%: ${over} px wider than the page: ${cells.join(' | ').slice(0, 60)}`);
    }
  }
  return wide;
}
""".replace("%WIDE_TABLE%", WIDE_TABLE)
# the CLI fallback cannot evaluate scripts, so the server adds this to every page and the dumped DOM carries the result
WIDE_TABLES_PROBE = ("<script>addEventListener('load', () => setTimeout(() => { document.body.dataset.wideTables = "
                     f"JSON.stringify(({WIDE_TABLES_JS})()); }}, 300));</script>")
CHECK_JS = r"""
(() => {
  const problems = [...(""" + WIDE_TABLES_JS + r""")()];
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) problems.push('missing image: ' + img.getAttribute('src'));
  }
  const text = document.querySelector('main') ? document.querySelector('main').innerText : document.body.innerText;
  if (/Traceback \(most recent call last\)/.test(text)) problems.push('visible traceback');
  const warn = text.match(/\w+Warning: .{0,80}/);
  if (warn) problems.push('visible warning: ' + warn[0]);
  if (document.querySelector('mjx-merror, .MathJax_Error')) problems.push('MathJax error');
  const raw = text.match(/(\$\$?[^$\n]{1,40}\\[a-zA-Z]+[^$\n]*\$|\\\(|\\\[)/);
  if (raw) problems.push('unrendered math: ' + raw[0].slice(0, 60));
  const prose = (document.querySelector('main') || document.body).cloneNode(true);
  prose.querySelectorAll('pre, code, script, style').forEach((e) => e.remove());
  const tick = prose.textContent.match(/`[^`\n]{1,60}`/);
  if (tick) problems.push('unrendered Markdown: ' + tick[0]);
  return problems;
})()
"""
# The narrow-window pass: headless Chromium lays out no window below 500 px, so each chapter page is
# loaded in a NARROW_WINDOW-wide <iframe> of a wrapper page the server writes (same origin, so the
# wrapper's script can measure the page inside). A page wider than the frame scrolls sideways as a
# whole on a phone; a table scrolling inside its own box does not widen the page and is fine.
NARROW_WINDOW = (390, 844)
NARROW = "narrow window"
NARROW_ROUTE = "/__narrow__/"  # the server's wrapper page for the page after it
# (frame) => the page's width, the frame's width and the widest element sticking out of it
NARROW_JS = r"""
(frame) => {
  const doc = frame.contentDocument;
  if (!doc || !doc.body) return null;
  const win = frame.contentWindow;
  const root = doc.documentElement;
  const width = root.clientWidth;
  const result = {page: root.scrollWidth, frame: width, element: null};
  if (root.scrollWidth - width <= 1) return result;
  // elements reaching past the frame's right edge, not clipped by a scrolling box, not fixed
  const found = [];
  const visit = (el, parentRight) => {
    const style = win.getComputedStyle(el);
    if (style.display === 'none' || style.position === 'fixed') return;
    const box = el.getBoundingClientRect();
    const right = box.right + win.scrollX;
    const content = style.overflowX === 'visible' && el.scrollWidth > el.clientWidth && el.clientWidth > 0
      ? box.left + win.scrollX + el.scrollWidth : right;
    const reach = Math.max(right, content);
    if (reach > width + 1) found.push({el, reach, sticksOut: right > parentRight + 1});
    if (style.overflowX !== 'visible') return;  // what is inside scrolls (or is cut) in this box
    for (const child of el.children) visit(child, right);
  };
  for (const child of doc.body.children) visit(child, doc.body.getBoundingClientRect().right + win.scrollX);
  if (!found.length) return result;
  const widest = Math.max(...found.map((f) => f.reach));
  const ties = found.filter((f) => f.reach >= widest - 1);
  // the outermost box sticking out of its parent, else the innermost whose text runs over (a long word)
  const el = (ties.find((f) => f.sticksOut) || ties[ties.length - 1]).el;
  result.element = {tag: el.tagName.toLowerCase(), cls: el.getAttribute('class') || '',
                    text: (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 40),
                    width: Math.round(el.getBoundingClientRect().width)};
  return result;
}
"""


def narrow_wrapper(rel: str) -> str:
    """The wrapper page of the narrow pass for the book page ``rel``: the page in a NARROW_WINDOW
    iframe; once it has loaded (and MathJax had time to typeset) the measurement of NARROW_JS is
    written into ``data-narrow`` on the wrapper's body, where both browser paths read it."""
    src = escape("/" + quote(rel), quote=True)
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"margin:0\">"
            f"<iframe id=\"narrow\" src=\"{src}\" width=\"{NARROW_WINDOW[0]}\" height=\"{NARROW_WINDOW[1]}\" "
            "style=\"border:0;display:block\"></iframe><script>"
            "const frame = document.getElementById('narrow');"
            "frame.addEventListener('load', () => setTimeout(() => {"
            f" document.body.dataset.narrow = JSON.stringify(({NARROW_JS})(frame)); }}, 800));"
            "</script></body></html>")


def narrow_problems(found: dict | None) -> list[str]:
    """The narrow pass's verdict on one page from NARROW_JS's measurement (None: it did not run):
    a problem when the page is wider than the frame, naming the overflow and the widest element."""
    if found is None:
        return [f"{NARROW}: the {NARROW_WINDOW[0]} px probe did not run (the page did not load in its "
                "frame in time); run with --no-narrow to skip this pass"]
    over = found["page"] - found["frame"]
    if over <= 1:
        return []
    widest = ""
    if el := found.get("element"):
        cls = f' class="{el["cls"]}"' if el["cls"] else ""
        widest = f"; widest: <{el['tag']}{cls}> {el['width']} px wide: {el['text']}"
    return [f"{NARROW}: page {over} px wider than a {found['frame']} px window{widest}"]


def narrow_pages(html: Path) -> list[str]:
    """The pages the narrow pass loads: every page but the archived run pages (see archived_layout)."""
    return [rel for rel, _ in pages(html) if not rel.startswith("runs/")]


def narrow_result_in_dom(dom: str) -> dict | None:
    """The measurement the wrapper page wrote into its body (``data-narrow``), or None."""
    found = re.search(r'data-narrow="([^"]*)"', dom)
    return json.loads(unescape(found.group(1))) if found else None


def probe_narrow_cli(exe: str, base: str, rel: str) -> dict | None:
    """The narrow measurement of page ``rel`` through Chromium's --dump-dom of its wrapper page
    (None when Chromium did not finish in two minutes or the wrapper wrote nothing)."""
    try:
        dom = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                              "--virtual-time-budget=10000", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                              "--dump-dom", base + NARROW_ROUTE + quote(rel)],
                             capture_output=True, text=True, timeout=120).stdout
    except subprocess.TimeoutExpired:
        return None
    return narrow_result_in_dom(dom)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise SystemExit("no Chromium found: as root run apt-get update && apt-get install -y chromium fonts-noto-cjk")


def build() -> None:
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jb), "build", "book/", "-W", "-n", "--keep-going"], cwd=REPO, check=True)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built book without a log line per request; adds ``inject`` before ``</body>``;
    ``NARROW_ROUTE`` + a page's path is that page's wrapper for the narrow pass (:func:`narrow_wrapper`)."""

    inject = ""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass

    def do_GET(self) -> None:
        if self.path.startswith(NARROW_ROUTE):
            return self._send(narrow_wrapper(unquote(self.path[len(NARROW_ROUTE):].split("?")[0])).encode())
        path = Path(self.translate_path(self.path))
        if not self.inject or path.suffix != ".html" or not path.is_file():
            return super().do_GET()
        self._send(path.read_text(encoding="utf-8").replace("</body>", self.inject + "</body>", 1).encode())

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(root: Path, inject: str = "") -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = partial(type("Handler", (QuietHandler,), {"inject": inject}), directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def check_pages(html: Path, shots: Path, narrow: bool = True) -> dict[str, list[str]]:
    """Return {page: problems} for every HTML page; save a full-page PNG of each into ``shots``;
    ``narrow``: also the narrow-window pass (:data:`NARROW_JS`) on every page of :func:`narrow_pages`."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright  # optional; falls back to the CLI below

    server, base = serve(html)
    results: dict[str, list[str]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": WINDOW[0], "height": WINDOW[1]})
            for rel, file in pages(html):
                page.goto(f"{base}/{rel}", wait_until="networkidle")
                page.wait_for_timeout(500)  # MathJax typesets after load
                results[rel] = page.evaluate(CHECK_JS) + file_problems(file)
                page.screenshot(path=str(shots / (rel.replace("/", "__") + ".png")), full_page=True)
            for rel in narrow_pages(html) if narrow else []:
                page.goto(base + NARROW_ROUTE + quote(rel), wait_until="networkidle")
                try:
                    page.wait_for_function("document.body.dataset.narrow !== undefined", timeout=15000)
                    found = json.loads(page.evaluate("document.body.dataset.narrow"))
                except PlaywrightTimeout:
                    found = None
                results[rel] += narrow_problems(found)
            browser.close()
    finally:
        server.shutdown()
    return results


def check_pages_cli(html: Path, shots: Path, narrow: bool = True) -> dict[str, list[str]]:
    """Without Playwright: Chromium's --dump-dom for checks and --screenshot for a tall PNG; the
    narrow pass dumps each page's wrapper, whose body carries the measurement."""
    server, base = serve(html, inject=WIDE_TABLES_PROBE)
    results: dict[str, list[str]] = {}
    exe = chromium()
    try:
        for rel, file in pages(html):
            url = f"{base}/{rel}"
            common = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                      "--virtual-time-budget=8000"]
            dom = subprocess.run(common + [f"--window-size={WINDOW[0]},{WINDOW[1]}", "--dump-dom", url],
                                 capture_output=True, text=True, timeout=120).stdout
            results[rel] = problems_in_dom(dom, html, file) + file_problems(file)
            subprocess.run(common + [f"--screenshot={shots / (rel.replace('/', '__') + '.png')}",
                                     "--window-size=1280,4000", url], capture_output=True, timeout=120)
        for rel in narrow_pages(html) if narrow else []:
            results[rel] += narrow_problems(probe_narrow_cli(exe, base, rel))
    finally:
        server.shutdown()
    return results


def pages(html: Path) -> list[tuple[str, Path]]:
    """The book's pages under ``html`` as (path relative to it, file), without Sphinx's own pages."""
    return [(rel, file) for file in sorted(html.rglob("*.html"))
            if not (rel := file.relative_to(html).as_posix()).startswith(("_", "genindex", "search"))]


def file_problems(file: Path) -> list[str]:
    """The checks read from a built page's HTML file: unescaped markup and Chinese typography."""
    source = file.read_text(encoding="utf-8")
    return unescaped_markup(source) + typography_problems(source)


def check_files(html: Path) -> dict[str, list[str]]:
    """Without a browser: only the checks of :func:`file_problems`, for every page."""
    return {rel: file_problems(file) for rel, file in pages(html)}


def unescaped_markup(source: str) -> list[str]:
    """A bare ``<`` in a built page's HTML (outside scripts and styles) that starts no tag, comment
    or declaration: text such as ``< 0.001`` written into a table without escaping. Browsers guess
    and show it, but the page is invalid HTML; the dumped DOM re-escapes it, so read the file."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", "", source, flags=re.S | re.I)
    if bare := re.search(r"<(?![A-Za-z/!?])[^<\n]{0,30}", markup):
        return ["unescaped '<' in HTML: " + bare.group(0)]
    return []


def archived_layout(page: str, problem: str) -> bool:
    """A wide table on a run page: those pages are the training notebooks exactly as they ran (one
    summary row of the record, in a box that scrolls), not layout the book can change without
    retraining; every other check still applies to them."""
    return page.startswith("runs/") and problem.startswith(WIDE_TABLE + ":")


def problems_in_dom(dom: str, html: Path, file: Path) -> list[str]:
    """The checks of CHECK_JS on a dumped DOM: images must exist on disk, no tracebacks/warnings/raw
    math, no literal backticks outside code (Markdown glued into a text role), and the tables
    WIDE_TABLES_PROBE found wider than the page."""
    problems = []
    for src in re.findall(r"<img[^>]+src=\"([^\"]+)\"", dom):
        if src.startswith(("http:", "https:", "data:")):
            continue
        if not (file.parent / src.split("#")[0].split("?")[0]).resolve().exists():
            problems.append(f"missing image: {src}")
    rendered = re.sub(r"<(script|style|mjx-assistive-mml)\b.*?</\1>", "", dom, flags=re.S)
    visible = re.sub(r"<[^>]+>", "", rendered)
    if "Traceback (most recent call last)" in visible:
        problems.append("visible traceback")
    if warn := re.search(r"\w+Warning: .{0,80}", visible):
        problems.append("visible warning: " + warn.group(0))
    if "<mjx-merror" in dom or re.search(r"class=\"[^\"]*MathJax_Error", dom):  # elements, not MathJax's CSS rules
        problems.append("MathJax error")
    if raw := re.search(r"\\\(|\\\[|\$\$?[^$\n]{0,40}\\[a-zA-Z]+[^$\n]*\$", visible):
        problems.append("unrendered math: " + raw.group(0)[:60])
    prose = re.sub(r"<[^>]+>", "", re.sub(r"<(pre|code)\b.*?</\1>", "", rendered, flags=re.S))
    if tick := re.search(r"`[^`\n]{1,60}`", prose):  # a code span glued as plain text
        problems.append("unrendered Markdown: " + tick.group(0))
    if probe := re.search(r'data-wide-tables="([^"]*)"', dom):  # WIDE_TABLES_PROBE's finding
        problems += json.loads(unescape(probe.group(1)))
    return problems


# --------------------------------------------------------------------------- Chinese typography
# Checked on the text a reader sees: the page's article, block by block (paragraphs, list items,
# table cells, headings, captions), without code, math, scripts and bibliography entries.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
FULL_PUNCT = "，。、；：？！“”‘’（）《》【】「」"
SPACE = "[ \u00a0\u2002-\u200a\u3000]+"
OPAQUE = "\ue000"  # stands for an inline formula or code span (neither Han nor punctuation)
BLOCK_TAGS = {"p", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "figcaption",
              "caption", "blockquote", "div", "section", "tr", "table", "ul", "ol", "dl", "main",
              "article"}
SKIP_TAGS = {"script", "style", "pre", "svg", "template", "noscript"}
INLINE_OPAQUE_TAGS = {"code", "kbd", "samp", "mjx-container"}
SKIP_CLASSES = {"headerlink", "citation", "footnote", "toctree-wrapper", "cell_input"}
VOID_TAGS = {"br", "img", "hr", "meta", "link", "input", "wbr", "source", "col"}
ENGLISH_WORDS = set("""a an the of to in on for with by from as at is are was were be been it its this
that these those and or not no nothing else each one only than then there we you they he she which
what when where who how why can will would should may must has have had do does did all any
but if so into""".split())
ENGLISH_RUN = re.compile(r"[A-Za-z]+(?:'[a-z]+)?(?:[ ,;:]+[A-Za-z]+(?:'[a-z]+)?){3,}")
TYPOGRAPHY_RULES = [
    ("space between Chinese characters", re.compile(f"[{HAN}]{SPACE}[{HAN}]")),
    ("space next to full-width punctuation",
     re.compile(f"[{HAN}{FULL_PUNCT}]{SPACE}[{FULL_PUNCT}]|[{FULL_PUNCT}]{SPACE}[{HAN}]")),
    ("half-width punctuation after Chinese", re.compile(f"[{HAN}][,;:!?]|[{HAN}]\\.(?=\\s|$)")),
    ("half-width parentheses around Chinese", re.compile(f"\\([^()]*[{HAN}][^()]*\\)")),
]


class _ProseParser(HTMLParser):
    """The visible prose of a page's main content, as one string per block (see above)."""

    def __init__(self, scope: str) -> None:
        super().__init__(convert_charrefs=True)
        self.scope = scope  # the class of the content element, or "" for the role="main" element
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, left out, is the scope element)
        self.main_depth = 0

    def _skipping(self) -> bool:
        return any(skipped for _, skipped, _ in self.stack)

    def _flush(self) -> None:
        text = re.sub(r"[ \t\r\n]+", " ", "".join(self.current)).strip()
        if text:
            self.blocks.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_TAGS:
            return
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        in_scope = (self.scope in classes) if self.scope else (a.get("role") == "main")
        self.main_depth += in_scope
        inline_opaque = tag in INLINE_OPAQUE_TAGS or (tag == "span" and "math" in classes)
        skipped = (tag in SKIP_TAGS or bool(classes & SKIP_CLASSES) or inline_opaque
                   or (tag == "div" and "math" in classes))
        if inline_opaque and not self._skipping():
            self.current.append(OPAQUE)
        if tag in BLOCK_TAGS and not inline_opaque:
            self._flush()
        self.stack.append((tag, skipped, in_scope))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_TAGS:
            return
        if not any(open_tag == tag for open_tag, _, _ in self.stack):
            return  # a stray end tag
        while self.stack:
            open_tag, _, was_scope = self.stack.pop()
            self.main_depth -= was_scope
            if open_tag == tag:
                break
        if tag in BLOCK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.main_depth and not self._skipping():
            self.current.append(data)


def prose_blocks(html_source: str) -> list[str]:
    """The blocks of visible prose in a built page's main content (see the section comment)."""
    # the theme's article (not its header buttons, page navigation or footer), else role="main"
    parser = _ProseParser("bd-article" if 'class="bd-article' in html_source else "")
    parser.feed(html_source)
    parser._flush()
    return parser.blocks


def _context(text: str, start: int, end: int) -> str:
    return text[max(0, start - 12):end + 12].replace(OPAQUE, "…")


def ascii_quotes(text: str) -> list[str]:
    """Straight double quotes (a pair, or a lone one) in a block of Chinese text: “…” is wanted."""
    if not re.search(f"[{HAN}]", text):
        return []
    return [_context(text, m.start(), m.end()) for m in re.finditer(r'"[^"]*"|"', text)]


def nested_brackets(text: str) -> list[str]:
    """Full-width brackets inside full-width brackets: （a（b）c）."""
    found, depth, opened = [], 0, 0
    for i, char in enumerate(text):
        if char == "（":
            depth += 1
            if depth == 1:
                opened = i
            elif depth == 2:
                found.append(_context(text, opened, i + 1))
        elif char == "）" and depth:
            depth -= 1
    return found


def english_sentences(text: str) -> list[str]:
    """The first run of four or more English words, two of them common function words, in a
    block: an English sentence on a Chinese page (identifiers and names are not sentences). A
    short block without Chinese (a table cell, a label) is not checked."""
    if not re.search(f"[{HAN}]", text) and len(text) < 40:
        return []
    for match in ENGLISH_RUN.finditer(text):
        words = re.findall(r"[A-Za-z]+", match.group(0))
        if sum(w.lower() in ENGLISH_WORDS for w in words) >= 2:
            return [match.group(0)[:60]]  # one per block: a paragraph in English is one problem
    return []


def typography_problems(html_source: str) -> list[str]:
    """Chinese typography problems in a built page: spaces between Han characters or next to
    full-width punctuation, ASCII quotes and half-width punctuation in Chinese text, nested
    full-width brackets, English sentences outside code. One entry per occurrence."""
    problems = []
    for block in prose_blocks(html_source):
        for kind, rule in TYPOGRAPHY_RULES:
            problems += [f"typography: {kind}: {_context(block, m.start(), m.end())}"
                         for m in rule.finditer(block)]
        problems += [f"typography: ASCII quote in Chinese text: {c}" for c in ascii_quotes(block)]
        problems += [f"typography: nested full-width brackets: {c}" for c in nested_brackets(block)]
        problems += [f"typography: English sentence: {s}" for s in english_sentences(block)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="check the existing build")
    parser.add_argument("--html", type=Path, default=REPO / "book" / "_build" / "html")
    parser.add_argument("--shots", type=Path, default=Path(tempfile.gettempdir()) / "book_shots")
    parser.add_argument("--no-browser", action="store_true",
                        help="only the checks read from the HTML files (markup, Chinese typography)")
    parser.add_argument("--no-narrow", action="store_true",
                        help=f"skip the {NARROW_WINDOW[0]} px (phone) pass of the browser checks")
    args = parser.parse_args(argv)
    if args.shots.resolve().is_relative_to(REPO):
        raise SystemExit(f"--shots {args.shots} is inside the repository; choose a folder outside it")
    if not args.no_build:
        build()
    if not (args.html / "index.html").exists() and not (args.html / "intro.html").exists():
        raise SystemExit(f"no built book at {args.html}: run without --no-build")
    args.shots.mkdir(parents=True, exist_ok=True)
    if args.no_browser:
        results = check_files(args.html)
    else:
        try:
            results = check_pages(args.html, args.shots, narrow=not args.no_narrow)
        except ImportError:
            results = check_pages_cli(args.html, args.shots, narrow=not args.no_narrow)
    results = {page: [p for p in probs if not archived_layout(page, p)] for page, probs in results.items()}
    failed = {page: probs for page, probs in results.items() if probs}
    for page, probs in failed.items():
        for problem in probs:
            print(f"{page}: {problem}")
    count = sum(len(probs) for probs in failed.values())
    shots = "" if args.no_browser else f"; screenshots in {args.shots}"
    print(f"{len(results)} pages checked, {len(failed)} with problems ({count} problems){shots}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
