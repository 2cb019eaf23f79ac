# IBOK: `make run` runs the whole system, `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test install lint typecheck migrate clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m tools.run

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy contracts runtime services tools bench

migrate: install
	$(VENV)/bin/ibok migrate

clean:
	rm -rf var .pytest_cache
