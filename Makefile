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
# (Prometheus with the example services' last 30 days and their story, an HA pair of Alertmanagers,
# fireline serve with the error-budget policy engine, capture server, demo service) and run the
# drill, SLO fire drill and policy check included. It prints how long each phase took. The stack
# keeps running for a look around; `make demo CI=1` stops it. STACK_ARGS=--free-ports when the
# default ports (9090, 9093-9094, 8080, ...) are taken.
STACK ?= .fireline/stack
STACK_ARGS ?=
HISTORY ?= 30d
CI ?=
# When make started: the install phase (venv, Debian packages) counts towards the demo's time.
DEMO_T0 := $(shell date +%s.%N)

demo: install
	@$(BIN)/fireline stack down --dir $(STACK) >/dev/null
	@rm -rf $(OUT)
	@status=0; timings=""; \
	since() { awk -v a="$$1" -v b="$$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }'; }; \
	timings="install $$(since $(DEMO_T0))"; \
	t=$$(date +%s.%N); \
	out=$$($(BIN)/fireline generate examples/ -c examples/fireline.yaml -o $(OUT) 2>&1) || { echo "$$out"; exit 1; }; \
	echo "$$out" | tail -n 1; timings="$$timings, generate $$(since $$t)"; \
	t=$$(date +%s.%N); $(BIN)/fireline lint $(OUT) && echo "lint: no problems" || exit 1; \
	timings="$$timings, lint $$(since $$t)"; \
	t=$$(date +%s.%N); $(BIN)/fireline check $(OUT) || exit 1; timings="$$timings, check $$(since $$t)"; \
	t=$$(date +%s.%N); \
	$(BIN)/fireline stack up --bundle $(OUT) -c examples/fireline.yaml --specs examples --dir $(STACK) \
	  --alertmanager-replicas 2 --history $(HISTORY) $(STACK_ARGS) || exit 1; \
	timings="$$timings, stack up with $(HISTORY) of history $$(since $$t)"; \
	t=$$(date +%s.%N); $(BIN)/fireline drill --dir $(STACK) || status=$$?; timings="$$timings, drill $$(since $$t)"; \
	if [ -n "$(CI)" ]; then echo "CI=1: stopping the stack"; $(BIN)/fireline stack down --dir $(STACK); fi; \
	echo "demo phases: $$timings; total $$(since $(DEMO_T0))"; \
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
