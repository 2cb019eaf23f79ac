# IBOK: `make run` runs the whole system, `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test test-fast install lint typecheck migrate clean chromium espeak wrk pgbackrest screenshots

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# axe-core for the browser tests' accessibility checks, pinned by tests/browser/package-lock.json.
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --silent
	touch $@

# The browser tests drive Debian's Chromium (a browser downloaded by Playwright cannot be had here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; } ; } || \
	  echo "Chromium is missing: apt-get install chromium (the browser tests need it)"

# The spoken captcha speaks with espeak-ng (Polish and English voices; services/auth/guard/captcha_audio.py).
espeak:
	@command -v espeak-ng >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  { apt-get update -qq >/dev/null && apt-get install -y -qq espeak-ng >/dev/null; } ; } || \
	  echo "espeak-ng is missing: apt-get install espeak-ng (auth's spoken captcha needs it)"

# The benchmarks' load generator: make test runs every benchmark in smoke mode (tests/bench).
wrk:
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  { apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; } ; } || \
	  echo "wrk is missing: apt-get install wrk (the benchmarks' smoke tests need it)"

# WAL archiving and point-in-time restore (ibok backup / ibok restore, the restore drill test).
pgbackrest:
	@command -v pgbackrest >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  { apt-get update -qq >/dev/null && apt-get install -y -qq pgbackrest >/dev/null; } ; } || \
	  echo "pgBackRest is missing: apt-get install pgbackrest (ibok backup and the restore drill need it)"

install: $(VENV)/.installed $(AXE) chromium espeak wrk pgbackrest

run: install
	$(PY) -m tools.run

test: install
	$(PY) -m pytest

# The fast tiers: the rules (tests/unit) and the handlers on a real database (tests/service).
test-fast: install
	$(PY) -m pytest -q tests/unit tests/service

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy contracts runtime services tools bench

migrate: install
	$(VENV)/bin/ibok migrate

clean:
	rm -rf var .pytest_cache

# Pictures of the portal's main pages at phone and desktop widths, into docs/screenshots/.
screenshots: install
	IBOK_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/browser/test_screenshots.py
