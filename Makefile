# Two commands on a fresh machine with Python 3.10-3.12 and make:
#   make run   - set up .venv and serve on 127.0.0.1:8000 under gunicorn
#   make test  - set up .venv and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/triage rules check
	$(BIN)/triage db upgrade
	$(BIN)/triage tokens bootstrap
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: $(STAMP)
	$(BIN)/triage rules check
	$(BIN)/triage rules test
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) instance .pytest_cache
