# mockprogress: `make serve` and `make test` work on a fresh machine with Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8765
HOST ?= 127.0.0.1

.PHONY: serve test lint typecheck pytest stress bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("mockprogress needs Python 3.11 or newer, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

# The stamps record what was installed; they are redone when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	@touch $@ $(VENV)/.installed-test $(VENV)/.installed

## serve: run the standalone server with the demo set on http://$(HOST):$(PORT)
serve: $(VENV)/.installed
	$(BIN)/mockprogress serve --host $(HOST) --port $(PORT)

## test: ruff, mypy --strict and the whole pytest suite
test: lint typecheck pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy --strict mockprogress

# Node packages the suite drives (tus-js-client, playwright-core), pinned by tests/node/package-lock.json.
tests/node/node_modules/.installed: tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund
	@touch $@

# Debian's Chromium, the browser the live view's tests drive (tests/clients/test_browser_view.py).
/usr/bin/chromium:
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

pytest: $(VENV)/.installed-test tests/node/node_modules/.installed /usr/bin/chromium
	$(BIN)/pytest

## stress: the fuzzers with 50 times the examples, the load test's long form (1,000
## connections, 100,000 requests), the bad-input catalogue, the hostile input and the limits
## (HTTP/1.1 and HTTP/2; many minutes)
stress: $(VENV)/.installed-test
	MOCKPROGRESS_STRESS=1 $(BIN)/pytest -o timeout=3600 tests/core/test_fuzz_requests.py tests/core/test_simple_heads.py \
		tests/core/test_fuzz_fields.py tests/core/test_fuzz_patches.py tests/core/test_fuzz_scenarios.py \
		tests/core/test_fuzz_control.py tests/core/test_fuzz_h2.py tests/server/test_load.py tests/server/test_bad_input_catalogue.py \
		tests/server/test_limits.py tests/server/test_hostile_input.py tests/server/test_http2_limits.py

## bench: every benchmark script (minutes, not part of `make test`); rewrites benchmarks/RESULTS.md
bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info tests/node/node_modules
