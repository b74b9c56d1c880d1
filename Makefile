# ContactGuard: `make run` starts a dev server with embedded defaults; `make test` runs everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export CONTACTGUARD_DEV ?= 1
# The suite runs on both cores (pytest-xdist); PYTEST_ARGS="-n 0 -x" runs it in one process.
PYTEST_ARGS ?= -n 2

.PHONY: run test lint install clean messages mutation-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/contactguard db upgrade
	$(BIN)/contactguard serve

test: $(STAMP)
	$(BIN)/ruff check src tests
	env -u CONTACTGUARD_DEV $(BIN)/python -m pytest $(PYTEST_ARGS)

# Break each documented guarantee in a scratch copy and require its tests to fail
# (tests/mutation/README.md). MUTATION_ARGS="--only NAME" runs some of them.
mutation-check: $(STAMP)
	env -u CONTACTGUARD_DEV $(BIN)/python tests/mutation/run.py $(MUTATION_ARGS)

# Seller Center and console strings: extract from the templates and update the catalogs
# (then translate).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o src/contactguard/locale/web.pot --no-location \
		--sort-output --project ContactGuard -k _ -k N_ -k ngettext:1,2 .
	$(BIN)/pybabel update -i src/contactguard/locale/web.pot -d src/contactguard/locale -D web \
		--no-fuzzy-matching --ignore-obsolete --width 100
	$(BIN)/pybabel extract -F babel-console.cfg -o src/contactguard/locale/console.pot --no-location \
		--sort-output --project ContactGuard -k _ -k ngettext:1,2 -k gettext .
	test -f src/contactguard/locale/zh_Hans/LC_MESSAGES/console.po || $(BIN)/pybabel init \
		-i src/contactguard/locale/console.pot -d src/contactguard/locale -D console -l zh_Hans
	$(BIN)/pybabel update -i src/contactguard/locale/console.pot -d src/contactguard/locale \
		-D console --no-fuzzy-matching --width 100

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy src/contactguard

clean:
	rm -rf $(VENV) var .pytest_cache
