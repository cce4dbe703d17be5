# Every target creates or reuses .venv from requirements.txt, so a fresh clone needs only Python 3.11+ and make.
SHELL := bash
export TF_CPP_MIN_LOG_LEVEL ?= 2
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
SUBMISSIONS ?= instructor/submitted
# Submissions graded at once; empty means one per CPU core.
WORKERS ?=
# Seconds one solution cell or one call of a graded function may run while autograding; empty keeps the default.
TIMEOUT ?=
# NO_SANDBOX=1 grades without bubblewrap: only for notebooks you trust.
NO_SANDBOX ?=
BWRAP_HINT := bubblewrap (bwrap) is missing: install it with `sudo apt-get install bubblewrap` (Debian/Ubuntu) or \
  `sudo dnf install bubblewrap` (Fedora).

.PHONY: lint test run notebook data references figures release bundle compat autograde bench bench-grading model \
  photo-stats feedback-report clean

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

## lint: check the code against the conventions in pyproject.toml (ruff: style, import order, Google docstrings)
lint: $(STAMP)
	$(PY) -m ruff check .

## test: run the project's own test suite (the grading tests run real bubblewrap sandboxes)
test: $(STAMP)
	@command -v bwrap >/dev/null || { echo "$(BWRAP_HINT)"; exit 1; }
	$(PY) -m pytest tests

## data: build datasets/train_signs.h5 and datasets/test_signs.h5 (SIGNS_ARCHIVE=<zip> to use a local copy)
data: $(STAMP)
	$(PY) -m signs.build

## run: build the data if needed, execute the notebook with the reference solution, write outputs/
run: data
	$(PY) -m tools.run_notebook

## notebook: open the student notebook in JupyterLab
notebook: $(STAMP)
	$(VENV)/bin/jupyter lab ResNet50.ipynb

## references: regenerate the reference tensors in outputs/references from the instructor solution
references: $(STAMP)
	$(PY) -m tools.make_references

## figures: redraw the diagrams in images/
figures: $(STAMP)
	$(PY) -m tools.draw_figures

## release: generate the student notebook from the instructor source with nbgrader
release: $(STAMP)
	$(PY) -m tools.release

## bundle: release, then pack the learner's files into outputs/resnet50-assignment.zip for an LMS, a hub or Colab
bundle: release
	$(PY) -m tools.bundle

## compat: run the learner-side checks in one fresh environment per supported TensorFlow/Keras pair (slow)
compat: $(STAMP)
	$(PY) -m tools.compat

## autograde: grade SUBMISSIONS/<student>.ipynb, each in a sandbox, into outputs/grades.csv, feedback/, gradebook.db
autograde: $(STAMP)
	@[ -n "$(NO_SANDBOX)" ] || command -v bwrap >/dev/null || { echo "$(BWRAP_HINT)"; exit 1; }
	$(PY) -m tools.autograde "$(SUBMISSIONS)" $(if $(WORKERS),--workers $(WORKERS)) $(if $(TIMEOUT),--timeout $(TIMEOUT)) \
	  $(if $(NO_SANDBOX),--no-sandbox)

## bench: precision, speed, accuracy, camera shift and robustness of the recipes, write outputs/bench.json
bench: data
	$(PY) -m tools.bench

## bench-grading: seconds per submission of the sandboxed grader on a class of correct and a mixed class
bench-grading: $(STAMP)
	@command -v bwrap >/dev/null || { echo "$(BWRAP_HINT)"; exit 1; }
	$(PY) -m tools.bench_grading

## model: train the model for learners' own photos (about 10 min on 2 cores), save outputs/resnet50_signs.keras
model: data
	$(PY) -m tools.train_model

## photo-stats: measure the SIGNS photos (colour, hand size and position, sharpness) and their camera-shifted copies
photo-stats: data
	$(PY) -m tools.photo_statistics

## feedback-report: show how the public tests react to the catalogue of learner mistakes
feedback-report: $(STAMP)
	$(PY) -m tools.feedback_report

clean:
	rm -rf $(VENV) .pytest_cache .compat
