# IBOK: `make run` runs the whole system, `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test install lint typecheck migrate clean chromium espeak screenshots

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

# The spoken captcha speaks with espeak-ng (Polish and English voices; services/auth/captcha_audio.py).
espeak:
	@command -v espeak-ng >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  { apt-get update -qq >/dev/null && apt-get install -y -qq espeak-ng >/dev/null; } ; } || \
	  echo "espeak-ng is missing: apt-get install espeak-ng (auth's spoken captcha needs it)"

install: $(VENV)/.installed $(AXE) chromium espeak

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

# Pictures of the portal's main pages at phone and desktop widths, into docs/screenshots/.
screenshots: install
	IBOK_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/browser/test_screenshots.py
