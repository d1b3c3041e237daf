# fireline: `make demo` runs the main job on the bundled examples, `make test` runs the tests.
# Both bootstrap what they need: a virtual environment with pinned dependencies, and Debian's
# Prometheus/Alertmanager (promtool, amtool) and VictoriaMetrics (vmagent, vmalert) when they are missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out
PYTEST_ARGS ?=

.PHONY: install tools test lint demo bench clean

install: $(STAMP) tools

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# promtool (package prometheus) and amtool (package prometheus-alertmanager) are the real engines
# the tests run against, victoria-metrics the second engine (with vmagent and vmalert; `stack up
# --engine victoriametrics`), chromium the browser the UI tests drive and `fireline report` prints PDF with,
# poppler-utils (pdftoppm, pdftotext) to read those PDFs back in tests; install them from Debian when missing.
tools:
	@missing=""; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v amtool >/dev/null 2>&1 || missing="$$missing prometheus-alertmanager"; \
	command -v vmalert >/dev/null 2>&1 || missing="$$missing victoria-metrics"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing:$$missing. Run: sudo apt-get update && sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

test: install
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# make demo: generate the example bundle, lint it, run its promtool tests, start the local stack
# (Prometheus, an HA pair of Alertmanagers, fireline serve, capture server, demo service) and run
# the drill, SLO fire drill included. The stack keeps running for a look around; `make demo CI=1`
# stops it. STACK_ARGS=--free-ports when the default ports (9090, 9093-9094, 8080, ...) are taken.
STACK ?= .fireline/stack
STACK_ARGS ?=
CI ?=

demo: install
	@$(BIN)/fireline stack down --dir $(STACK) >/dev/null
	rm -rf $(OUT)
	@out=$$($(BIN)/fireline generate examples/ -c examples/fireline.yaml -o $(OUT) 2>&1) || { echo "$$out"; exit 1; }; \
	echo "$$out" | tail -n 1
	$(BIN)/fireline lint $(OUT) && echo "lint: no problems"
	$(BIN)/fireline check $(OUT)
	$(BIN)/fireline stack up --bundle $(OUT) -c examples/fireline.yaml --specs examples --dir $(STACK) --alertmanager-replicas 2 $(STACK_ARGS)
	@status=0; $(BIN)/fireline drill --dir $(STACK) || status=$$?; \
	if [ -n "$(CI)" ]; then echo "CI=1: stopping the stack"; $(BIN)/fireline stack down --dir $(STACK); fi; \
	exit $$status

# Each script prints its table; rules_cost also writes bench/RESULTS.md and bench/results/rules_cost.json,
# lint_bench bench/results/lint_bench.{json,md}.
bench: install
	$(BIN)/python bench/rules_cost.py
	$(BIN)/python bench/simulate_bench.py
	$(BIN)/python bench/intake_bench.py
	$(BIN)/python bench/lint_bench.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
