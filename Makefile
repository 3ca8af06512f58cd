# Thin wrappers: every target sets up what it needs (virtualenv, project, Kafka jars).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.riverbed-installed
PYTEST_ARGS ?=

.PHONY: help setup kafka-jars browser demo test test-all lint format typecheck clean

help:
	@echo "make demo   run the main job on the local platform (real Kafka on 127.0.0.1)"
	@echo "make test   lint, then the default test suite (everything but slow tests)"
	@echo "make test-all  also the slow tests"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[harness,test]'
	touch $(STAMP)

setup: $(STAMP)

kafka-jars: setup
	$(BIN)/riverbed kafka resolve

browser:
	bash scripts/ensure-chromium.sh

demo: kafka-jars
	$(BIN)/riverbed demo

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy reports workloads/evidence

test: lint kafka-jars browser
	bash scripts/pytest.sh -m "not slow" $(PYTEST_ARGS)

test-all: lint kafka-jars browser
	bash scripts/pytest.sh $(PYTEST_ARGS)

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
