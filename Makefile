# Two commands for a newcomer: `make demo` and `make test`. Each bootstraps its own virtual
# environment from nothing but Python >= 3.11.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# The suite starts ~100 Python processes (workers, web apps, the demo): each compiling every
# module anew, as PYTHONDONTWRITEBYTECODE makes it, costs it seconds. Compiled files go to the
# __pycache__ folders git ignores.
unexport PYTHONDONTWRITEBYTECODE
# pytest-xdist: two workers per core (`make test PYTEST_WORKERS=0` runs in one process, e.g. to
# debug with pdb). The end-to-end files spend most of their time waiting on a worker process,
# the sandbox or the database, so a second worker per core fills that wait: on 2 cores 4
# workers took 5 min 25 s where 2 took 6 min 30-43 s (7 Dec, before the suite's own costs were
# cut; since then 3 and 4 workers take the same ~4 min 10 s, 6 take 4 min 36 s). loadfile keeps a file's tests on one
# worker, so the module-scoped stacks and browsers the end-to-end files start are started once;
# --no-loadscope-reorder hands the files out in collection order, slowest first (tests/conftest.py).
PYTEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(2 * len(os.sched_getaffinity(0)))')

.PHONY: install test demo bench screenshots lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: run make with PYTHON=python3.11 (or newer)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The static checks run as tests, beside the rest rather than before it: the import-linter
# contracts (tests/unit/test_architecture.py), bandit with no medium or high finding (a justified
# one carries `# nosec BXXX: why`) and mypy, strict on the domain and the application
# (tests/unit/test_static_scan.py).
test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

demo: install
	$(BIN)/kanglu demo

bench: install
	$(BIN)/python bench/run_all.py

# The README's screenshots, from the real product in Debian's Chromium (apt-get install chromium).
screenshots: install
	$(BIN)/python tools/screenshots.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
