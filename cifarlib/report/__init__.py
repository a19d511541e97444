"""The report: what renders this book's study from the library's records.

The library (the rest of ``cifarlib``: models, data, engine, runner, sweep ...) trains and files
runs; this package reads them back for the book: paired statistics, figures, tables and Chinese
sentences per chapter, and the study's own readers of benchmark files. It imports the library;
the library never imports it (``tests/test_layers.py``). Import the modules themselves, e.g.
``from cifarlib.report import stats``; this file re-exports nothing.
"""
