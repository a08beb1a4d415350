# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint format migrate clean bench

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# The server and the SDK (sdk/): `manage.py submit_job` zips folders with the SDK's code.
$(VENV)/.installed: pyproject.toml sdk/pyproject.toml | $(PY)
	$(PIP) install --quiet -e ./sdk -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e '.[test]'
	@touch $@

## make run: install, migrate, and serve the studio + MLflow API with a Celery worker.
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py collectstatic --noinput -v 0
	exec $(PY) manage.py serve

## make test: install the test tools, lint, check formatting, and run the whole suite.
test: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	rm -rf .test-data && mkdir -p .test-data
	STUDIO_DATA_DIR=$(CURDIR)/.test-data $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(VENV)/.installed
	$(PY) manage.py migrate

## make bench: the side-by-side benchmark against MLflow's own server (needs ../shared/bench).
bench:
	../shared/bench/compare.sh $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data
