# Bilat: every target installs what it needs first, so a fresh clone needs only:
#   make demo    # the two-party demo (starts Kafka and Redis on this machine)
#   make test    # lint, types and the whole test suite against real Kafka and Redis
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup lint test unit integration e2e demo up down status bench clean

# The venv is rebuilt when pyproject.toml or a C module changes.
$(STAMP): pyproject.toml setup.py streams/merkle/_batchhash.c streams/contract/_flatavro.c
	@command -v java >/dev/null || { echo "java not found: apt-get install -y openjdk-17-jre-headless"; exit 2; }
	@command -v mvn >/dev/null || { echo "mvn not found: apt-get install -y maven"; exit 2; }
	@bash deploy/local/build-deps.sh $(PYTHON)
	@bash deploy/local/browser-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports  # the pure core's import contract, [tool.importlinter] in pyproject.toml

# The whole suite: unit (ms), integration (real Kafka + Redis, started once), e2e (the CLI).
test: lint
	$(BIN)/pytest -q --durations=10

unit: setup
	$(BIN)/pytest -q tests/unit

integration: setup
	$(BIN)/pytest -q tests/integration

e2e: setup
	$(BIN)/pytest -q tests/e2e

demo: setup
	$(BIN)/bilat demo

up: setup
	$(BIN)/bilat up

down: setup
	$(BIN)/bilat down

status: setup
	$(BIN)/bilat status

# Benchmarks print a table and write JSON to bench/results/ (see README, "Benchmarks").
bench: setup
	$(BIN)/python -m bench.rating
	$(BIN)/python -m bench.merkle
	$(BIN)/python -m bench.signing
	$(BIN)/python -m bench.reconcile
	$(BIN)/python -m bench.pipeline

clean:
	-$(BIN)/bilat down
	rm -rf .bilat .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
