#!/usr/bin/env bash
# Make sure the tools `make pdf` and tests/test_pdf.py need are installed: XeLaTeX with xeCJK and the
# LaTeX packages Sphinx uses, latexmk, a CJK font (Noto CJK) and the Latin one Sphinx picks for
# XeLaTeX (GNU FreeFont), and poppler's pdftotext/pdffonts/pdfinfo/pdftoppm.
# Usage: tools/pdf_tools.sh DEBIAN_PACKAGE...   (the packages to install when something is missing)
# As root on Debian/Ubuntu it installs the packages with apt-get; anywhere else it names what is
# missing and the command that installs it, and fails.
set -euo pipefail

missing=()
for cmd in xelatex latexmk kpsewhich fc-list pdftotext pdffonts pdfinfo pdftoppm; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("command $cmd")
done
if command -v kpsewhich >/dev/null 2>&1; then
  for sty in xeCJK.sty ucharclasses.sty tabulary.sty capt-of.sty caption.sty fncychap.sty pdflscape.sty; do
    [ -n "$(kpsewhich "$sty")" ] || missing+=("LaTeX package $sty")
  done
fi
if command -v fc-list >/dev/null 2>&1; then
  families=$(fc-list : family)  # one read: grep -q on a pipe would end fc-list early (pipefail)
  for font in "Noto Serif CJK SC" "Noto Sans CJK SC" "FreeSerif" "FreeSans" "FreeMono"; do
    grep -qF "$font" <<<"$families" || missing+=("font $font")
  done
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "PDF tools missing: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing: $*" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  exit 0
fi
echo "install them as root, on Debian/Ubuntu: apt-get update && apt-get install -y --no-install-recommends $*" >&2
echo "(elsewhere: a TeX Live with XeLaTeX, xeCJK and latexmk, the Noto CJK and GNU FreeFont fonts, and poppler)" >&2
exit 1
