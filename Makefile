# Gongdan — the two commands a new machine needs are `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export GONGDAN_HOME ?= $(CURDIR)/var
# make run GONGDAN_LANG=en: every line the commands print in English (default Chinese)
export GONGDAN_LANG ?= zh
HOST    ?= 127.0.0.1
PORT    ?= 8000
# make run DEMO=0: no demo people (alice…henry, password demo)
DEMO    ?= 1
# Parallel test workers (pytest-xdist); the machine has 2 cores.
JOBS    ?= auto

.PHONY: run setup test test-sqlite bench lint format worker demo clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	@echo "installing dependencies into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/pip install --upgrade pip > $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@$(BIN)/pip install -e '.[dev]' >> $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@touch $(STAMP)

## front-end libraries (htmx, Alpine.js, ECharts, SortableJS, Swagger UI), pinned by package-lock.json
ASSETS  := node_modules/.installed
$(ASSETS): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $(ASSETS)

## the DingTalk JSAPI as one browser file (its npm package is CommonJS only), bundled by the pinned esbuild
DDJS    := node_modules/.bundles/dingtalk-jsapi.min.js
$(DDJS): $(ASSETS)
	node_modules/.bin/esbuild node_modules/dingtalk-jsapi/index.js --bundle --minify --format=iife \
		--global-name=dd --log-level=warning --outfile=$(DDJS)

setup: $(STAMP) $(ASSETS) $(DDJS)

## make run: set up, migrate ./var/gongdan.db, import the shipped apps, print a login, serve on :8000
run: $(STAMP) $(ASSETS) $(DDJS)
	mkdir -p $(GONGDAN_HOME)
	$(BIN)/gongdan init
	$(BIN)/gongdan import app_definitions/*.yaml
	@if [ "$(DEMO)" != "0" ]; then $(BIN)/gongdan demo --people-only; fi
	$(BIN)/gongdan serve --host $(HOST) --port $(PORT) --with-worker

## make test: the whole suite, on SQLite and (when reachable) PostgreSQL
test: $(STAMP) $(ASSETS) $(DDJS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(JOBS) -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: $(STAMP)
	$(BIN)/gongdan worker

demo: $(STAMP)
	$(BIN)/gongdan demo

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info

## make loadtest: DURATION s (default 600) of mixed load on PostgreSQL + Redis, 2 web + 2 job workers;
## prints throughput and p50/p95/p99 per endpoint, then checks no ticket, event, webhook or SLA timer
## was lost or repeated (tests/load/). RATE (operations/s, default 40, 40 % submits), CONCURRENCY and MIX tune it.
.PHONY: loadtest
loadtest: $(STAMP)
	DURATION=$${DURATION:-600} $(BIN)/python -m tests.load
