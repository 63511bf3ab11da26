# The two commands: `make run` (set up and serve) and `make test` (install test tools, run the suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HTMX   := app/static/vendor/htmx.min.js
TUS    := app/static/vendor/tus.min.js
WEBAUTHN := app/static/vendor/simplewebauthn-browser.min.js
AXE    := tests/browser/vendor/axe.min.js
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard app/translations/*/LC_MESSAGES/messages.po))
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?=

.PHONY: run setup test test-fast lint format bench worker jobs-worker clean messages

## First command: a fresh machine to a running portal on http://127.0.0.1:5000 (SQLite, mail in the log).
## The transcoding worker runs in the background and stops with the server.
run: setup
	$(BIN)/flask --app wsgi --debug db upgrade
	$(BIN)/flask --app wsgi --debug media demo
	$(BIN)/flask --app wsgi --debug jobs worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask --app wsgi --debug run --host $(HOST) --port $(PORT)

setup: $(VENV)/.installed $(HTMX) $(TUS) $(WEBAUTHN) $(CATALOGUES)

# Compiled translations (.mo) are built from the committed .po files.
%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

## Extract every translatable string into messages.pot and merge it into the French catalogue.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o app/translations/messages.pot --no-location --sort-output -w 100 .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching -w 100

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# htmx, tus-js-client and @simplewebauthn/browser (passkeys) come from their npm packages, pinned by package-lock.json, and are
# served from app/static.
# axe-core (a devDependency) is for the browser tests only: it goes beside them, never into app/static.
$(HTMX) $(TUS) $(WEBAUTHN) $(AXE) &: package.json package-lock.json
	npm ci --no-audit --no-fund
	mkdir -p $(dir $(HTMX)) $(dir $(AXE))
	cp node_modules/htmx.org/dist/htmx.min.js $(HTMX)
	cp node_modules/tus-js-client/dist/tus.min.js $(TUS)
	cp node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js $(WEBAUTHN)
	cp node_modules/axe-core/axe.min.js $(AXE)

$(VENV)/.test-installed: $(VENV)/.installed setup.cfg
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## Second command: install what the tests need and run them all: first all but the slow ones, one
## worker per CPU (pytest-xdist; each test file runs whole on one worker, so its module fixtures
## start once), then the slow ones (load, scale-out, slow clients) alone, since they measure the
## machine under their own load, together with the tests that compare timings (marked timing).
## JUNIT_DIR=dir writes dir/junit-fast.xml and dir/junit-slow.xml.
test: setup $(VENV)/.test-installed $(AXE)
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not slow and not timing" $(if $(JUNIT_DIR),--junitxml=$(JUNIT_DIR)/junit-fast.xml) $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m "slow or timing" $(if $(JUNIT_DIR),--junitxml=$(JUNIT_DIR)/junit-slow.xml) $(PYTEST_ARGS)

## For local work: the suite without the tests marked slow (load, scale-out, slow clients).
## `make test` (and CI) still runs everything.
test-fast: setup $(VENV)/.test-installed $(AXE)
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not slow" $(PYTEST_ARGS)

## Lint, format and type checks (CI runs this before the tests; any finding fails): ruff (Flask's rule
## set, import order, format), mypy over app/, djlint over the templates. Config: pyproject.toml.
## Then no HTML template line may be longer than 160 characters (djlint's max_line_length only guides
## its formatter). grep, not a djlint rule: djlint's rules skip text inside {{ }} and {% %}, <script>,
## <pre> and comments. A line holding only one quoted string (a "literal", or an attribute's value)
## may be longer: the string cannot be split without changing it (a translatable one's msgid).
lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/djlint app/templates --lint
	@if LC_ALL=C.UTF-8 grep -rnE --include='*.html' '^.{161}' app/templates | grep -vE "^[^:]+:[0-9]+: *([a-z-]+=)?(\"[^\"]*\"|'[^']*')[,>]?$$"; \
	then echo 'Template lines longer than 160 characters (above): split them between attributes or tags.'; exit 1; fi

## Rewrite what ruff can fix by itself (import order, format).
format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Benchmarks (numbers, not pass/fail): see bench/README.md.
bench: setup $(VENV)/.test-installed
	$(BIN)/python -m bench.run

## Deliver pending mails forever (what a production worker runs).
worker: setup
	$(BIN)/flask --app wsgi outbox send --loop

## Run transcoding jobs (what a production jobs worker runs; `make run` starts one itself).
jobs-worker: setup
	$(BIN)/flask --app wsgi jobs worker

clean:
	rm -rf $(VENV) node_modules $(HTMX) $(TUS) $(WEBAUTHN) $(AXE) .pytest_cache test-artifacts
