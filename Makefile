# Two commands set everything up on a machine with Python 3.11 and pip:
#   make lab    the course in JupyterLab (student copy in student/)
#   make test   the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STUDENT_DIR ?= student
EDITION ?= en
LAB_PORT ?= 8888
LAB_ARGS ?=
BENCH_ARGS ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test student lint bench bench-digits accuracy sync lock clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

student: $(STAMP)
	$(PY) -m autograde student-copy $(if $(filter ko,$(EDITION)),--edition ko $(STUDENT_DIR)/ko,$(STUDENT_DIR))

lab: student
	$(VENV)/bin/jupyter lab --notebook-dir=$(STUDENT_DIR) --port=$(LAB_PORT) $(ROOT_FLAG) \
		--ServerApp.default_url=/lab/tree/$(if $(filter ko,$(EDITION)),ko/,)01_network/01_network.ipynb $(LAB_ARGS)

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Grading speed: plain nbgrader against `autograde grade --workers auto` on a synthetic class
# (several minutes; e.g. make bench BENCH_ARGS="--students 5 --assignment 02_losses"). Not part of make test.
bench: $(STAMP)
	$(PY) -m autograde.bench_grading $(BENCH_ARGS)

# Notebook 6's training time and accuracy.
bench-digits: $(STAMP)
	$(PY) -m autograde.bench_digits

# Grading accuracy: every mutant of every reference solution graded, survivors listed (several minutes).
# make test grades a sample of them (tests/test_grading_accuracy.py).
accuracy: $(STAMP)
	$(PY) -m autograde.mutants

sync: $(STAMP)
	$(PY) -m autograde sync

# Re-pin every transitive dependency after changing requirements*.txt.
lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | sed 's/+cpu$$//' > constraints.txt

clean:
	rm -rf student course .pytest_cache
