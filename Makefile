# The verbs people type. Everything bootstraps itself from a bare Python 3.11+ and Node 20 or newer.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
# jsii (the bridge the CDK's Python library runs Node through) warns on every synth when Node is past
# its end of life. Node 20 works; this takes the major versions to silence (e.g. 20), not a yes/no.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
export UV_PYTHON := $(shell command -v $(PYTHON))

.PHONY: help install browser demo test test-unit test-e2e test-infra soak bench synth deploy destroy lint clean

help:
	@echo "make demo    - run the whole pipeline locally on a sample image (no AWS account needed)"
	@echo "make test    - unit, workflow, infrastructure (synth + cdk-nag + cfn-lint) and end-to-end tests"
	@echo "make browser - install Debian's chromium (as root) for the test that opens the run page"
	@echo "make soak    - the full fault soak (300+ uploads, duplicates, 429s, 5xx, failures)"
	@echo "make bench   - benchmarks against the usual designs; writes bench-results/"
	@echo "make synth   - cdk synth (no Docker, no AWS account; bundling the functions needs PyPI)"
	@echo "make deploy  - cdk deploy (needs AWS credentials)"
	@echo "make destroy - cdk destroy (what removalPolicy=retain keeps stays: see the README)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.8

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed

# Debian's Chromium, for the test that opens the run page in a real browser (tests/e2e/test_demo_page.py,
# through Playwright; no browser is ever downloaded). .ci/run calls this; `make test` does not.
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else echo "make browser: /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get);" \
		"the browser test will be skipped"; fi

demo: $(VENV)/.installed
	$(VENV)/bin/i2v demo

test: install lint
	$(PY) -m pytest -q

test-unit: $(VENV)/.installed
	$(PY) -m pytest -q tests/unit tests/highway_sim

test-e2e: $(VENV)/.installed
	$(PY) -m pytest -q tests/e2e tests/workflow

test-infra: install
	$(PY) -m pytest -q tests/infra

soak: $(VENV)/.installed
	$(PY) -m i2v_local.soak

bench: $(VENV)/.installed
	$(PY) -m i2v_bench

synth: install
	npx cdk synth -q

deploy: install
	npx cdk deploy

destroy: install
	npx cdk destroy

# ruff; mypy (strict on the Lambda code, functions/); import-linter's dependency directions (pyproject.toml).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check functions infra tests
	$(VENV)/bin/mypy -p i2v
	PYTHONPATH=functions:infra $(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache demo-output i2v-output .i2v-up test-artifacts
