# Every target creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed

.PHONY: demo test lint format bench clean

# The sandbox (./sandbox, distribution zoho-invoice-sandbox) is installed in the same pip
# command, so the resolver takes this local project for the `sandbox` extra.
$(STAMP): pyproject.toml sandbox/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ./sandbox -e '.[dev]'
	touch $(STAMP) $(DEMO_STAMP)

# The demo needs the service, the CLI and the sandbox, not the dev tools (mypy, ruff,
# Playwright): a first `make demo` installs only those. After `make test` it has them already.
$(DEMO_STAMP): pyproject.toml sandbox/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ./sandbox -e '.[web,cli,sandbox]'
	touch $(DEMO_STAMP)

# The demo writes its settings to .env here, so `.venv/bin/zoho-invoice connections list`
# (or any command) run next in this folder finds its keys and database.
demo: $(DEMO_STAMP)
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
