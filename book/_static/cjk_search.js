/* Search result snippets (see book/_ext/cjk_search.py, which indexes Chinese as character bigrams):
   - a snippet is centred on the phrase typed into the search box, not on one of its bigrams;
   - formulas are shown as plain text (short ones) or as [公式], never as raw LaTeX.
   Loaded on every page; it changes Sphinx's Search object only where searchtools.js defines it. */
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined") return;

  const plainMath = (tex) => {
    const body = tex.replace(/^\s*(\\\(|\\\[|\$\$?)/, "").replace(/(\\\)|\\\]|\$\$?)\s*$/, "").trim();
    return /^[\w\s.,:;+\-*/=<>()|'%]{1,24}$/.test(body) ? body : "[公式]";
  };

  Search.htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    doc.querySelectorAll(".headerlink, script, style, div.math").forEach((el) => el.remove());
    doc.querySelectorAll("span.math").forEach((el) => el.replaceWith(plainMath(el.textContent)));
    const main = doc.querySelector('[role="main"]');
    const block = anchor ? doc.querySelector(`[role="main"] ${anchor}`) : null;
    return (block || main || { textContent: "" }).textContent;
  };

  const summary = Search.makeSearchSummary;
  Search.makeSearchSummary = (htmlText, keywords, anchor) => {
    // Sphinx centres the snippet on the last keyword it finds: put the typed phrases last
    const typed = (new URLSearchParams(window.location.search).get("q") || "")
      .split(/\s+/).filter((word) => word.length > 1);
    return summary(htmlText, [...keywords, ...typed], anchor);
  };
});
