"""Sphinx extension: the notebooks' Matplotlib figures also as vector PDF, for the printed book.

The kernels that execute the book's pages show a figure as PNG (110 dpi, right for the screen).
This extension points ``PYTHONSTARTUP`` at ``kernel_startup.py`` before any page is executed, so
every kernel also sends each figure as PDF. The HTML still shows the PNG (``application/pdf`` is
not in myst-nb's HTML priority list); the LaTeX build prefers the PDF, so the printed figures are
vector graphics at any resolution. One execution serves both builds (they share the doctrees).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

STARTUP = Path(__file__).with_name("kernel_startup.py")


def setup(app: Sphinx) -> dict[str, Any]:
    os.environ["PYTHONSTARTUP"] = str(STARTUP)  # inherited by the kernels myst-nb starts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
