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

.PHONY: lab test student lint bench bench-coordinator bench-digits accuracy sync lock clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The edition's student environment (autograde/student_env.py): the notebooks, the runtime they
# import in .runtime (first on the kernel's path, so the notebooks run on what a student gets), and
# a .jupyter folder with JupyterLab's interface language for the edition.
COPY := $(if $(filter ko,$(EDITION)),$(STUDENT_DIR)/ko,$(STUDENT_DIR))

student: $(STAMP)
	$(PY) -m autograde student-env $(if $(filter ko,$(EDITION)),--edition ko,) $(COPY)

lab: student
	PYTHONPATH="$(abspath $(COPY))/.runtime$${PYTHONPATH:+:$$PYTHONPATH}" \
	JUPYTER_CONFIG_PATH="$(abspath $(COPY))/.jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	$(VENV)/bin/jupyter lab --notebook-dir=$(STUDENT_DIR) --port=$(LAB_PORT) $(ROOT_FLAG) \
		--ServerApp.default_url=/lab/tree/$(if $(filter ko,$(EDITION)),ko/,)01_network/01_network.ipynb $(LAB_ARGS)

# `make test` runs the whole suite, then the notebooks and the tests of what training computes a second
# time on PyTorch's plain (non-vectorised) CPU kernels in one thread: their floating-point results differ
# in the last digits, as another processor's do, so an output or a test that holds on one processor only
# fails here and not on someone else's machine. Both runs use two pytest-xdist workers (one per core); each
# test file stays on one worker, so a notebook's cells share one kernel and a module's fixtures are built once.
# The Korean notebooks are left out of the second run: their code cells and stored outputs are the English
# ones (tests/test_editions.py), so they would repeat the English notebooks' comparison exactly.
OTHER_CPU       := ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1
OTHER_CPU_TESTS := notebooks tests/test_digits.py tests/test_explore.py

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile
	$(OTHER_CPU) $(PY) -m pytest -n 2 --dist loadfile $(OTHER_CPU_TESTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Grading speed: plain nbgrader against `autograde grade --workers auto` on a synthetic class
# (several minutes; e.g. make bench BENCH_ARGS="--students 5 --assignment 02_losses"). Not part of make test.
bench: $(STAMP)
	$(PY) -m autograde.bench_grading $(BENCH_ARGS)

# The grading process's ceiling: 5,000 simulated submissions (workers answer at once), SQLite then PostgreSQL
# (a throw-away server from Debian's postgresql package); notebooks per second and its processor time per notebook.
bench-coordinator: $(STAMP)
	$(PY) -m autograde.simulate --regrade
	$(PY) -m autograde.simulate --regrade --postgres

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
