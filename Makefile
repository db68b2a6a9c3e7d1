# Every target is a thin wrapper of one documented command; `install` bootstraps .venv/ from the lock file.
SHELL := /bin/bash
# Python 3.11 or newer; python3.11 when present (what CI and the lock file were made with), else python3.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8080
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install console browser sevenzip run test test-fast lint format synth deploy-check bench bench-answers bench-index bench-index-incremental bench-scale test-scale fuzz deploy smoke lock clean

install: $(STAMP)

# The three distributions, editable: the runtime (.), the partner client (client/) and the dev kit (devkit/), whose
# `exhaust` command is the one the docs use; their dependencies come from the lock.
$(STAMP): requirements.lock pyproject.toml client/pyproject.toml devkit/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e . -e ./client -e ./devkit
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The browser console (console/: TypeScript built by Vite into build/console/, file names hashed); npm ci from its lock.
CONSOLE_SOURCES := $(wildcard console/src/*) console/index.html console/vite.config.ts console/tsconfig.json
console: build/console/index.html

console/node_modules/.installed: console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

build/console/index.html: console/node_modules/.installed $(CONSOLE_SOURCES)
	cd console && npm run --silent build

## Debian's chromium for the console's browser tests (Playwright drives /usr/bin/chromium); quick when installed.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@chromium --version

## 7-Zip (7zz), which the tests use to open the AES-256 zips as a partner would (Debian's 7zip package).
sevenzip:
	@command -v 7zz >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq 7zip; }
	@7zz | head -2 | tail -1

## Re-pin every Python dependency after changing a pyproject.toml (the runtime's, client/'s or devkit/'s); the
## repository's own distributions are resolved from their folders (devkit's [tool.uv.sources]) and not pinned.
lock: $(BIN)/python
	$(BIN)/uv pip compile pyproject.toml devkit/pyproject.toml client/pyproject.toml --all-extras \
	  --no-emit-package exhaust --no-emit-package exhaust-client --python-version 3.11 -o requirements.lock

## Run the whole service locally (moto, sample data, real HTTP on 127.0.0.1:$(PORT)); state kept in .exhaust/state.
## FRESH=1 forgets that state and starts empty; EXHAUST_* settings are honoured (docs/configuration.md).
run: install console
	PORT=$(PORT) $(BIN)/exhaust local --port $(PORT) $(if $(filter-out 0,$(FRESH)),--fresh)

## The whole offline test suite.
test: install console
	$(BIN)/pytest -n auto --dist loadgroup

## The long reliability run: schemathesis with FUZZ_EXAMPLES examples per operation, the hostile matrix and the
## 1,000-submit concurrency suite, against local mode (docs/reliability.md).
FUZZ_EXAMPLES ?= 1000
fuzz: install
	EXHAUST_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/e2e_local/test_api_conformance.py \
	  tests/e2e_local/test_hostile_matrix.py tests/e2e_local/test_submit_concurrency.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Synthesize the CloudFormation template into cdk.out/ (offline: no Docker, no credentials).
synth: install console
	$(BIN)/python app.py
	@echo "synthesized: the template is in cdk.out/ (cdk-nag checks passed)"

## The builders against their floor, small batches and cold starts; figures in bench/results.json and docs/benchmarks.md.
bench: install
	$(BIN)/python bench/bench_builders.py

## Requests of 1,000 and 10,000 batches through the real workflow document, builder stubbed (docs/scaling.md).
bench-scale: install
	$(BIN)/python bench/bench_scale.py

## The 10,000-batch request end to end (tests/integration/test_scale.py; make test runs the 2,000-batch one).
test-scale: install
	EXHAUST_SCALE_TESTS=1 $(BIN)/pytest tests/integration/test_scale.py -q

## The largest legacy and export answers on the answers lake, against API Gateway's 29 s (docs/benchmarks.md).
bench-answers: install
	$(BIN)/python bench/bench_answers.py

## The lake index on platform lakes of 1, 2, 5 and 10 M enrolments: one process against Spark in local mode on 2
## cores (bench/index_results.json, docs/benchmarks.md; ENROLMENTS="1000000 2000000" for fewer sizes).
bench-index: install
	$(BIN)/python bench/bench_index.py $(if $(ENROLMENTS),--enrolments $(ENROLMENTS))

bench-index-incremental: install
	$(BIN)/python bench/bench_incremental.py $(if $(ENROLMENTS),--enrolments $(ENROLMENTS)) $(if $(ENGINE),--engine $(ENGINE))

## Before a deploy: what the stack (synthesized with the same ARGS as the deploy) needs of the account's quotas, and
## (with credentials) whether the account has it; a shortfall stops here with what to ask for (docs/deploy.md).
deploy-check: install node_modules/.installed
	npx cdk synth --app "$(BIN)/python app.py" --quiet $(ARGS)
	$(BIN)/exhaust deploy-check

deploy: install console node_modules/.installed deploy-check
	npx cdk deploy --app "$(BIN)/python app.py" $(ARGS)

## Smoke-test a deployed stack: submit -> wait for SUCCESS -> download (docs/deploy.md). Standard library only.
smoke:
	@test -n "$(BASE_URL)" -a -n "$(TOKEN)" -a -n "$(CHANNEL)" -a -n "$(BATCH)" || \
	  { echo "usage: make smoke BASE_URL=<ApiUrl output> TOKEN=<exh_...> CHANNEL=<channel> BATCH=<batch id>"; exit 2; }
	PYTHONPATH=client:devkit $(or $(wildcard $(BIN)/python),python3) -m exhaust_devkit.smoke --base-url "$(BASE_URL)" \
	  --token "$(TOKEN)" --channel "$(CHANNEL)" --batch-id "$(BATCH)" $(ARGS)

clean:
	rm -rf cdk.out .build build .pytest_cache .mypy_cache .ruff_cache
