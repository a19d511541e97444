"""The two layers of the package: the library (``cifarlib`` minus ``cifarlib/report/``) never
imports the report (``cifarlib.report``), which renders this book's study from the library."""

from __future__ import annotations

import ast
from pathlib import Path

import cifarlib

PACKAGE = Path(cifarlib.__file__).resolve().parent
REPORT = PACKAGE / "report"


def imported_modules(source: str, module: str, is_package: bool = False) -> list[str]:
    """Absolute names of every module the code of ``module`` imports, at any depth (imports inside
    functions too), relative imports resolved."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here[: len(here) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def is_report(name: str) -> bool:
    return name == "cifarlib.report" or name.startswith("cifarlib.report.")


def library_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if REPORT not in p.parents)


def test_the_library_never_imports_the_report() -> None:
    offenders = {}
    for path in library_files():
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        bad = [n for n in imported_modules(path.read_text(), module, is_package) if is_report(n)]
        if bad:
            offenders[str(path.relative_to(PACKAGE.parent))] = bad
    assert not offenders, f"library modules import the report package (move the code or invert the import): {offenders}"


def test_the_scanner_resolves_relative_and_late_imports() -> None:
    late = "def f():\n    from ..report import tables\n"
    assert any(is_report(n) for n in imported_modules(late, "cifarlib.models.probe"))
    assert any(is_report(n) for n in imported_modules("from . import report\n", "cifarlib.probe"))
    assert any(is_report(n) for n in imported_modules("import cifarlib.report.tables\n", "cifarlib.probe"))
    assert not any(is_report(n) for n in imported_modules("from .models import report_x\n", "cifarlib.probe"))


def test_the_report_is_a_package_beside_the_library() -> None:
    assert (REPORT / "__init__.py").exists() and not (PACKAGE / "report.py").exists()
    assert {p.name for p in library_files()} >= {"engine.py", "runner.py", "sweep.py", "registry.py"}
