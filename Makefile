# Single entry point. `make book` builds the report; `make pdf` builds it as one PDF too; `make test`
# runs the test suite (CI calls it). They create .venv and install what they need on first use;
# `make pdf` and `make test` also need TeX, CJK fonts and poppler (tools/pdf_tools.sh installs them
# as root on Debian/Ubuntu and says what to install elsewhere).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch from this machine's local wheels; elsewhere override, e.g. make test TORCH="torch torchvision"
TORCH ?= torch==2.14.1 torchvision==0.29.1
JOBS ?= 2
# Debian packages for the PDF: XeLaTeX + xeCJK + the LaTeX packages Sphinx uses, fonts, poppler
PDF_DEBS := texlive-xetex texlive-latex-extra texlive-lang-chinese latexmk fonts-noto-cjk \
	fonts-freefont-otf poppler-utils

.PHONY: book pdf pdf-tools test test-fast models sweep-smoke sweep-offline bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $@

install: $(VENV)/.installed

book: $(VENV)/.installed  ## build the Chinese report from the committed results (warnings are errors)
	$(BIN)/python tools/make_book_sections.py  # method pages in _toc.yml, ablation sections, from their tables
	$(BIN)/jupyter-book build book/ -W -n --keep-going

pdf-tools:
	@tools/pdf_tools.sh $(PDF_DEBS)

# The PDF first (it executes the pages), then the HTML from the same Sphinx environment (no second
# execution), which copies the fresh PDF next to the pages and links it from the header.
pdf: $(VENV)/.installed pdf-tools  ## the whole book as one PDF: book/_build/latex/book.pdf (and the HTML)
	$(BIN)/python tools/make_book_sections.py
	$(BIN)/jupyter-book build book/ --builder pdflatex -W -n --keep-going
	$(BIN)/jupyter-book build book/ -W -n --keep-going

# book/results.ipynb is executed once, by the book build in tests/conftest.py (PDF, then HTML from
# the same execution; warnings and cell errors fail it), shared by tests/test_book.py and
# tests/test_pdf.py in one xdist group; tests/test_chapters.py runs it again only on fabricated records.
# nbval re-executes the smoke-size copy of the train notebook and the cheapest book chapter and
# compares the outputs of their "# NBVAL_CHECK_OUTPUT" cells (refresh: tools/make_nbval_notebooks.py);
# --dist loadscope keeps each notebook's cells in one worker, in order.
NBVAL_NOTEBOOKS := tests/nbval/train_smoke.ipynb book/perclass.ipynb

test: $(VENV)/.installed pdf-tools  ## the whole test suite: unit + end-to-end (papermill, book + PDF build) + nbval
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup --durations=15 tests
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadscope --nbval-lax \
		--nbval-sanitize-with tests/nbval/sanitize.cfg $(NBVAL_NOTEBOOKS)

test-fast: $(VENV)/.installed  ## unit tests only (skips papermill and book builds)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) -m "not slow" tests

models: $(VENV)/.installed  ## table of every registered model
	$(BIN)/python -m cifarlib models

sweep-smoke: $(VENV)/.installed
	$(BIN)/python -m cifarlib sweep smoke

sweep-offline: $(VENV)/.installed  ## real CIFAR-10 JPEGs on the CPU (about 25 minutes per model)
	$(BIN)/python -m cifarlib sweep offline

bench: $(VENV)/.installed  ## training throughput: engine vs bare step vs textbook DataLoader loop
	$(BIN)/python benchmarks/train_throughput.py

clean:
	rm -rf book/_build .pytest_cache
