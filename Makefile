# Herald: every command a developer, an operator or CI needs. `make help` lists them.
PYTHON ?= python3
VENV := .venv
SAM_VENV := .sam-venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv demo attack test unit handlers integration browser screenshots lint format template-lint schemas translations samples build clean bench soak

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

# aws-sam-cli pins its own boto3, so it lives in a virtual environment of its own.
$(SAM_STAMP):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli
	@touch $@

venv: $(STAMP) ## Create .venv with Herald and its development tools

demo: $(STAMP) ## Run the whole pipeline locally (moto, provider stand-ins) and print the summary
	$(BIN)/herald demo

attack: $(STAMP) ## Every attack of issue 9 against the local runtime (webhooks, publishing, content); last line is JSON
	$(BIN)/python -m herald_tools.local.attack

test: $(STAMP) lint template-lint ## Lint, validate the template, run every test
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

unit: $(STAMP) ## Fast offline unit tests only
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

handlers: $(STAMP) ## Handler tests (moto, stand-ins)
	$(BIN)/pytest tests/handlers $(PYTEST_ARGS)

integration: $(STAMP) ## Tests that start the local runtime
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

browser: $(STAMP) ## The customer's pages in Debian's Chromium (Playwright, axe-core)
	$(BIN)/pytest tests/browser $(PYTEST_ARGS)

screenshots: $(STAMP) ## Refresh docs/order-page-*.png from the browser tests
	HERALD_SCREENSHOTS_DIR=docs $(BIN)/pytest tests/browser -q $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, ruff format --check, mypy, import contracts (lint-imports)
	$(BIN)/ruff check functions tools tests benchmarks
	$(BIN)/ruff format --check functions tools tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix functions tools tests benchmarks
	$(BIN)/ruff format functions tools tests benchmarks

template-lint: $(STAMP) $(SAM_STAMP) ## cfn-lint and sam validate --lint (offline)
	$(BIN)/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1 --template-file template.yaml

schemas: $(STAMP) ## Regenerate schemas/ from the contract models
	$(BIN)/python -m herald_tools.contract.schemas

translations: $(STAMP) ## Update the pages' .po files from the code (new msgids to translate) and compile their .mo
	$(BIN)/python -m herald_tools.page_translations

samples: $(STAMP) ## Regenerate the SQS-wrapped copies of events/ under events/sqs/
	$(BIN)/python -m herald_tools.contract.samples

build: $(SAM_STAMP) ## sam build (no container needed)
	$(SAM_VENV)/bin/sam build --template-file template.yaml

clean: ## Remove build output, caches and the demo's outbox
	rm -rf .aws-sam outbox .herald .pytest_cache .mypy_cache .ruff_cache

bench: $(STAMP) ## Run the benchmarks (cold start, batch latency, own cost, local end to end); last line is JSON
	$(BIN)/python benchmarks/run_all.py

soak: $(STAMP) ## Events through the local runtime under injected faults; last line is JSON (lost, duplicates...)
	$(BIN)/python benchmarks/soak.py
