# CarPrice entry points. `make run` and `make test` are the two commands in the README.
PY_VERSION ?= 3.11
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(shell command -v uv 2>/dev/null || echo "$(VENV)/bin/uv")

.PHONY: install run test test-unit lint bench clean up down logs

$(VENV)/bin/python:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	uv venv --python $(PY_VERSION) $(VENV)

install: $(VENV)/bin/python  ## venv with every extra, from the lock file
	uv pip install --python $(PY) -r requirements.lock -e .

run: install  ## train → register → gate on the embedded stack (SQLite MLflow, local files)
	$(PY) -m carprice.train

test: install  ## the whole suite: unit, integration (real servers), slow
	$(PY) -m pytest -q

test-unit: install
	$(PY) -m pytest -m "not integration and not e2e and not slow" -q

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: install  ## speed figures: training on the real file, API vs peer, load
	$(PY) -m benchmarks.bench_train
	$(PY) -m benchmarks.bench_api
	$(PY) -m benchmarks.bench_load

up: install  ## local stack (S3, MLflow, Airflow, API, dashboard) + first champion; see stack/
	$(PY) -m stack up

down:  ## stop everything `make up` started
	$(PY) -m stack down

logs:  ## follow every service's log (Ctrl-C to stop following)
	$(PY) -m stack logs

clean:
	rm -rf .stack .pytest_cache .ruff_cache
