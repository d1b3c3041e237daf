# fireline: `make demo` runs the main job on the bundled examples, `make test` runs the tests.
# Both bootstrap what they need: a virtual environment with pinned dependencies, and Debian's
# Prometheus/Alertmanager (promtool, amtool) when they are missing.

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
# the tests run against, chromium the browser the UI tests drive; install them from Debian when missing.
tools:
	@missing=""; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v amtool >/dev/null 2>&1 || missing="$$missing prometheus-alertmanager"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
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

demo: install
	rm -rf $(OUT)
	$(BIN)/fireline generate examples/ -c examples/fireline.yaml -o $(OUT)
	$(BIN)/fireline check $(OUT)
	$(BIN)/fireline explain examples/checkout.yaml

bench: install
	$(BIN)/python bench/rules_cost.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
