"""Run by every kernel the book build starts (``PYTHONSTARTUP``, set by ``print_figures.py``):
inline Matplotlib figures are sent as PNG for the HTML and as PDF (vector) for the LaTeX build."""

from matplotlib_inline.config import InlineBackend

InlineBackend.instance().figure_formats = {"png", "pdf"}
