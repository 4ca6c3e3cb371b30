# Two commands on a fresh machine with Python 3.10-3.12 and make:
#   make run   - set up .venv and serve on 127.0.0.1:8000 under gunicorn
#   make test  - set up .venv and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint openapi bench model clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,plot,lint]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/triage rules check
	$(BIN)/triage db upgrade
	$(BIN)/triage tokens bootstrap
	$(BIN)/triage serve

test: $(STAMP)
	$(BIN)/triage rules check
	$(BIN)/triage rules test
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The committed snapshot of the API (tests/openapi.json): update it when the API changes on purpose.
openapi: $(STAMP)
	$(BIN)/triage openapi --output tests/openapi.json

bench: $(STAMP)
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/lifecycle.py
	$(BIN)/python bench/classifier.py

# The shipped default model: the project's own sample tickets, trained into the bundled registry
# (models/; other new models go to TRIAGE_MODELS_DIR, instance/models) and activated for this checkout (instance/models/ACTIVE).
model: $(STAMP)
	$(BIN)/triage model sample --output models/sample/tickets.csv
	version=$$($(BIN)/triage model train --data models/sample/tickets.csv --text-columns subject,description \
		--label-column level --label-map 1=1,2=2,3=3,4=4 --feature-columns language --output models | tail -n 1) && \
		$(BIN)/triage model activate $$version

clean:
	rm -rf $(VENV) instance .pytest_cache
