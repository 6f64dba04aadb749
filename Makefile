# Every target creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench clean

# The sandbox (./sandbox, distribution zoho-invoice-sandbox) is installed in the same pip
# command, so the resolver takes this local project for the `sandbox` extra.
$(STAMP): pyproject.toml sandbox/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ./sandbox -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/zoho-invoice demo

lint: $(STAMP)
	$(BIN)/ruff check src sandbox/src tests bench
	$(BIN)/ruff format --check src sandbox/src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src sandbox/src tests bench
	$(BIN)/ruff check --fix src sandbox/src tests bench

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/bulk_pull.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
