# make demo: sign and verify an example OCI layout (no registry needed)
# make test: install everything the tests need, lint, run the whole suite
SHELL := /bin/bash
VENV ?= .venv
ifdef VIRTUAL_ENV
PY := python
BIN :=
else
PY := $(abspath $(VENV))/bin/python
BIN := $(abspath $(VENV))/bin/
endif
PYTEST_ARGS ?= -n auto

.PHONY: demo test lint install install-test sysdeps venv clean

venv:
ifndef VIRTUAL_ENV
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
endif

install: venv
	$(PY) -m pip install -q --disable-pip-version-check -e .

install-test: venv
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'

sysdeps:
	bash scripts/sysdeps.sh

demo: install
	PATH="$(BIN):$$PATH" bash examples/demo.sh

lint: install-test
	$(PY) -m ruff check src tests bench
	$(PY) -m mypy
	$(BIN)lint-imports

test: sysdeps install-test lint
	PATH="$(BIN):$$PATH" $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
